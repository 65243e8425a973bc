"""Packet captures (pcap, pcapng, gzip'd either) into bidirectional flows: the hot path (DESIGN §4)."""
