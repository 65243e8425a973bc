/* Compiled kernels for the capture hot path (issue #9), each with a Python twin that stays the reference
 * and the fallback when this module is not built (tests/readers/capture/test_walk.py compares them):
 *
 * - pcap_records: the one sequential step of reading a classic pcap, finding where each variable-length
 *   record starts (each position depends on the previous record's captured length, so it cannot be
 *   vectorised). Python: ~700 ns per record; here ~115 ns, bound by memory latency. Twin: walk.py.
 * - gather: unsigned big/little-endian integers at arbitrary offsets in one pass, where NumPy needs one
 *   fancy index per byte plus shifts and temporaries. Twin: gather.py.
 * - group_ids: dense ids of equal fixed-width keys in order of first appearance, with an open-addressing
 *   table instead of a round trip through pyarrow's dictionary_encode and its memory pool. Twin: rows.py.
 *
 * No NumPy C API: results are bytes/bytearray of native 64-bit integers that Python views with
 * np.frombuffer, so the build needs only a C compiler and the Python headers.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FIELDS 5 /* offset, seconds, fraction, captured length, wire length */

static uint32_t get_u32(const unsigned char *p, int big) {
    if (big) {
        return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
    }
    return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | (uint32_t)p[0];
}

/* pcap_records(buffer, start, end, record_header, big_endian, limit) -> (bytes, stop, bad)
 *
 * Walks whole records in buffer[start:end]. bytes holds FIELDS int64 per record (offset relative to the
 * buffer, then the four header words); stop is where the first incomplete record starts (or the record
 * that lied); bad is 1 when a record claims more than ``limit`` captured bytes.
 */
static PyObject *pcap_records(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t start, end;
    int rec_hdr, big;
    unsigned long long limit;
    if (!PyArg_ParseTuple(args, "y*nnipK", &view, &start, &end, &rec_hdr, &big, &limit)) {
        return NULL;
    }
    if (start < 0 || end > view.len || start > end || rec_hdr < 16) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "bad walk bounds");
        return NULL;
    }
    const unsigned char *data = (const unsigned char *)view.buf;
    /* Room for records of ~256 bytes on average; grown by doubling when the packets are smaller. */
    Py_ssize_t cap = (end - start) / 256 + 64, n = 0, pos = start;
    int64_t *out = malloc((size_t)cap * FIELDS * sizeof(int64_t));
    int bad = 0, nomem = out == NULL;
    Py_BEGIN_ALLOW_THREADS
    while (!nomem && pos + rec_hdr <= end) {
        const unsigned char *h = data + pos;
        uint32_t incl = get_u32(h + 8, big);
        if ((unsigned long long)incl > limit) {
            bad = 1;
            break;
        }
        Py_ssize_t next = pos + rec_hdr + (Py_ssize_t)incl;
        if (next > end) {
            break;
        }
        if (n == cap) {
            int64_t *grown = realloc(out, (size_t)cap * 2 * FIELDS * sizeof(int64_t));
            if (grown == NULL) {
                nomem = 1;
                break;
            }
            out = grown;
            cap *= 2;
        }
        int64_t *row = out + n * FIELDS;
        row[0] = pos;
        row[1] = get_u32(h, big);
        row[2] = get_u32(h + 4, big);
        row[3] = incl;
        row[4] = get_u32(h + 12, big);
        n++;
        pos = next;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    if (nomem) {
        free(out);
        return PyErr_NoMemory();
    }
    PyObject *packed = PyBytes_FromStringAndSize((const char *)out, n * FIELDS * (Py_ssize_t)sizeof(int64_t));
    free(out);
    if (packed == NULL) {
        return NULL;
    }
    return Py_BuildValue("(Nni)", packed, pos, bad);
}

/* gather(buffer, offsets, width, big_endian) -> bytearray of native int64 (uint64 for width 8)
 *
 * The unsigned integer of ``width`` bytes (1, 2, 4 or 8) at each offset: what gather.py's NumPy versions
 * compute with one fancy index per byte plus shifts, in one pass. Offsets follow NumPy's indexing rules
 * (a negative offset counts from the end; out of range is an IndexError), so results are identical.
 */
static PyObject *gather(PyObject *self, PyObject *args) {
    Py_buffer view, offs;
    int width, big;
    if (!PyArg_ParseTuple(args, "y*y*ip", &view, &offs, &width, &big)) {
        return NULL;
    }
    Py_ssize_t n = offs.len / (Py_ssize_t)sizeof(int64_t), len = view.len;
    PyObject *out = (width == 1 || width == 2 || width == 4 || width == 8) && offs.len % 8 == 0
                        ? PyByteArray_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(uint64_t))
                        : NULL;
    if (out == NULL) {
        PyBuffer_Release(&view);
        PyBuffer_Release(&offs);
        if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_ValueError, "width must be 1, 2, 4 or 8 and offsets int64");
        }
        return NULL;
    }
    const unsigned char *data = (const unsigned char *)view.buf;
    const int64_t *off = (const int64_t *)offs.buf;
    uint64_t *dst = (uint64_t *)PyByteArray_AS_STRING(out);
    Py_ssize_t bad = -1;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t at = off[i] < 0 ? off[i] + len : off[i];
        int64_t last = (off[i] + width - 1 < 0 ? off[i] + width - 1 + len : off[i] + width - 1);
        if (at < 0 || at >= len || last < 0 || last >= len || last != at + width - 1) {
            bad = i;
            break;
        }
        const unsigned char *p = data + at;
        uint64_t v = 0;
        for (int k = 0; k < width; k++) {
            v = (v << 8) | p[big ? k : width - 1 - k];
        }
        dst[i] = v;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    PyBuffer_Release(&offs);
    if (bad >= 0) {
        Py_DECREF(out);
        PyErr_Format(PyExc_IndexError, "offset %zd is out of bounds for a buffer of %zd bytes", bad, len);
        return NULL;
    }
    return out;
}

static uint64_t hash_bytes(const unsigned char *p, Py_ssize_t width) {
    uint64_t h = 0x9E3779B97F4A7C15ULL ^ (uint64_t)width;
    Py_ssize_t i = 0;
    for (; i + 8 <= width; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDULL;
        h ^= h >> 32;
    }
    for (; i < width; i++) {
        h = (h ^ p[i]) * 0x100000001B3ULL;
    }
    return h ^ (h >> 29);
}

/* group_ids(keys, width) -> bytearray of native int64
 *
 * Dense group numbers for equal fixed-width keys, numbered in order of first appearance: what rows.py's
 * pyarrow ``dictionary_encode`` gives, without a detour through Arrow arrays and its memory pool (one open
 * addressing table, keys compared in full, so collisions cost time, never correctness).
 */
static PyObject *group_ids(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t width;
    if (!PyArg_ParseTuple(args, "y*n", &view, &width)) {
        return NULL;
    }
    if (width <= 0 || view.len % width) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "buffer is not a whole number of keys");
        return NULL;
    }
    Py_ssize_t n = view.len / width, cap = 16;
    while (cap < 2 * n) {
        cap <<= 1;
    }
    int64_t *slots = malloc((size_t)cap * sizeof(int64_t)); /* row index + 1 of the first key seen; 0 empty */
    PyObject *out = slots ? PyByteArray_FromStringAndSize(NULL, n * (Py_ssize_t)sizeof(int64_t)) : NULL;
    if (out == NULL) {
        free(slots);
        PyBuffer_Release(&view);
        return PyErr_Occurred() ? NULL : PyErr_NoMemory();
    }
    memset(slots, 0, (size_t)cap * sizeof(int64_t));
    const unsigned char *data = (const unsigned char *)view.buf;
    int64_t *ids = (int64_t *)PyByteArray_AS_STRING(out), next = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        const unsigned char *key = data + i * width;
        uint64_t at = hash_bytes(key, width) & (uint64_t)(cap - 1);
        while (slots[at] && memcmp(data + (slots[at] - 1) * width, key, (size_t)width)) {
            at = (at + 1) & (uint64_t)(cap - 1);
        }
        if (!slots[at]) {
            slots[at] = i + 1;
            ids[i] = next++;
        } else {
            ids[i] = ids[slots[at] - 1];
        }
    }
    Py_END_ALLOW_THREADS
    free(slots);
    PyBuffer_Release(&view);
    return out;
}

static PyMethodDef methods[] = {
    {"group_ids", group_ids, METH_VARARGS, "Dense ids of equal fixed-width keys, in order of first appearance."},
    {"pcap_records", pcap_records, METH_VARARGS, "Walk classic pcap records: (packed int64 rows, stop, bad)."},
    {"gather", gather, METH_VARARGS, "Unsigned integers of 1/2/4/8 bytes at each offset (packed int64)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_walk",
    .m_doc = "Compiled capture kernels: pcap record walk, fixed-offset reads, key grouping.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__walk(void) { return PyModule_Create(&module); }
