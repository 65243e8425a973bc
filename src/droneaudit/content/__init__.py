"""Content audit (issue #11): what exactly the app sent, out of cleartext HTTP, TLS sessions decrypted
with a key log, and HAR exports. Layers, each usable alone:

``stream``   TCP half-streams in stream order, every byte tied to the frame that carried it
``keylog``   NSS key log files and pcapng Decryption Secrets Blocks
``tls``      TLS 1.2 / 1.3 record decryption of a conversation with the key log
``http1``/``http2``  requests and responses out of plaintext streams
``har``      the same messages out of HAR 1.2 files
``detect``   positions, serials, phones, e-mails, device ids and tokens in a message
``carve``    files inside bodies (multipart parts, raw bodies, ZIP members), stored by sha256
"""
