/*
 * Rows of an Arrow struct array as Python dicts, read through the Arrow C data interface, and
 * one-row struct arrays built from dict trees. Arrays come and go through the documented Arrow
 * PyCapsule interface (`__arrow_c_array__`), never through pyarrow's private functions.
 *
 * Portable C: buffers are read and written with memcpy (no unaligned typed access), values are
 * in the machine's byte order as Arrow's memory is, and `make test` compiles this file with
 * -Wall -Wextra -Werror for x86-64 and aarch64.
 *
 * Why C: encoding from Arrow first reads the value into a dict tree. Done with pyarrow's Python
 * wrappers that costs ~1-10 us per call and a PointCloud2 row takes ~20 calls (35-100 us on our
 * 2-core machine, more than the whole memcpy of its 1.6 MB of points), and reading the exported
 * C structures from Python was no faster (docs/msgconv.md). This walks the exported tree in C:
 * ~3 us for the same row. It is optional: without a C compiler at install time, codec.py reads
 * the value with pyarrow as before, with the same result.
 *
 * The caller (codec.py) passes the array and a "spec" of its Arrow type, built once per type:
 *   (0, names, specs)            struct -> dict (names: tuple of str, specs: tuple of specs)
 *   (1, code)                    primitive -> bool/int/float; code is a struct-module letter
 *   (2,) / (3,)                  utf8 / large_utf8 -> str
 *   (4, child, dtype)            list (int32 offsets)
 *   (5, child, dtype)            large_list (int64 offsets)
 *   (6, child, dtype, size)      fixed_size_list
 * A list whose `dtype` is not None (numeric values) becomes `frombuffer(view, dtype)`: a numpy
 * array over the Arrow buffer, no copy, kept alive by a small owner object that holds the array.
 * Other lists become Python lists. Nulls become None. The result is what `to_pylist()` gives,
 * except for those numpy views.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The Arrow C data interface (a stable ABI: arrow/c/abi.h). */
struct ArrowArray {
    int64_t length;
    int64_t null_count;
    int64_t offset;
    int64_t n_buffers;
    int64_t n_children;
    const void **buffers;
    struct ArrowArray **children;
    struct ArrowArray *dictionary;
    void (*release)(struct ArrowArray *);
    void *private_data;
};

enum { K_STRUCT = 0, K_PRIM = 1, K_UTF8 = 2, K_LARGE_UTF8 = 3, K_LIST = 4, K_LARGE_LIST = 5,
       K_FIXED_LIST = 6 };

/* Keeps the Arrow array (and so its buffers) alive for as long as a numpy view of them lives. */
typedef struct {
    PyObject_HEAD
    PyObject *owner;
    const char *ptr;
    Py_ssize_t len;
} Span;

static char EMPTY[1];

static int span_getbuffer(PyObject *self, Py_buffer *view, int flags) {
    Span *span = (Span *)self;
    return PyBuffer_FillInfo(view, self, (void *)(span->len ? span->ptr : EMPTY), span->len, 1,
                             flags);
}

static void span_dealloc(PyObject *self) {
    Py_XDECREF(((Span *)self)->owner);
    PyObject_Free(self);
}

static PyBufferProcs span_as_buffer = {span_getbuffer, NULL};

static PyTypeObject SpanType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "dora_ros.msgconv._arrow_native.Span",
    .tp_basicsize = sizeof(Span),
    .tp_dealloc = span_dealloc,
    .tp_as_buffer = &span_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Read-only bytes of an Arrow buffer, holding the array that owns them.",
};

typedef struct {
    PyObject *owner;      /* the pyarrow array that was exported */
    PyObject *frombuffer; /* numpy.frombuffer */
} Walk;

static PyObject *value_at(Walk *w, const struct ArrowArray *a, PyObject *spec, int64_t index);

static int shape_error(const char *what) {
    PyErr_Format(PyExc_ValueError, "exported Arrow array does not match its spec (%s)", what);
    return -1;
}

static int check(const struct ArrowArray *a, int64_t buffers, int64_t children, int64_t index) {
    if (a->n_buffers != buffers) return shape_error("buffers");
    if (a->n_children != children) return shape_error("children");
    if (index < 0 || index >= a->offset + a->length) return shape_error("index");
    return 0;
}

static int is_null(const struct ArrowArray *a, int64_t phys) {
    const uint8_t *bits = (const uint8_t *)a->buffers[0];
    return a->null_count != 0 && bits != NULL && !((bits[phys >> 3] >> (phys & 7)) & 1);
}

/* Loads and stores go through memcpy: Arrow buffers handed to us (a user's foreign_buffer) need
 * not be aligned, and an unaligned typed access traps on some CPUs (and is undefined in C).
 * Compilers turn each into one load or store where the CPU allows it. Values are in the
 * machine's byte order, as Arrow's memory is. */
#define LOADER(name, type)                                                                    \
    static type name(const void *base, int64_t i) {                                           \
        type v;                                                                               \
        memcpy(&v, (const char *)base + i * (int64_t)sizeof(type), sizeof(type));            \
        return v;                                                                             \
    }
LOADER(load_i8, int8_t)
LOADER(load_u8, uint8_t)
LOADER(load_i16, int16_t)
LOADER(load_u16, uint16_t)
LOADER(load_i32, int32_t)
LOADER(load_u32, uint32_t)
LOADER(load_i64, int64_t)
LOADER(load_u64, uint64_t)
LOADER(load_f32, float)
LOADER(load_f64, double)

static PyObject *primitive(const struct ArrowArray *a, int code, int64_t phys) {
    const void *data = a->buffers[1];
    switch (code) {
    case '?': return PyBool_FromLong((load_u8(data, phys >> 3) >> (phys & 7)) & 1);
    case 'b': return PyLong_FromLong(load_i8(data, phys));
    case 'B': return PyLong_FromLong(load_u8(data, phys));
    case 'h': return PyLong_FromLong(load_i16(data, phys));
    case 'H': return PyLong_FromLong(load_u16(data, phys));
    case 'i': return PyLong_FromLong(load_i32(data, phys));
    case 'I': return PyLong_FromUnsignedLong(load_u32(data, phys));
    case 'q': return PyLong_FromLongLong(load_i64(data, phys));
    case 'Q': return PyLong_FromUnsignedLongLong(load_u64(data, phys));
    case 'f': return PyFloat_FromDouble(load_f32(data, phys));
    case 'd': return PyFloat_FromDouble(load_f64(data, phys));
    }
    PyErr_Format(PyExc_ValueError, "unknown primitive code %d", code);
    return NULL;
}

static int item_size(int code) {
    switch (code) {
    case 'b': case 'B': return 1;
    case 'h': case 'H': return 2;
    case 'i': case 'I': case 'f': return 4;
    case 'q': case 'Q': case 'd': return 8;
    }
    return 0;
}

static PyObject *structure(Walk *w, const struct ArrowArray *a, PyObject *spec, int64_t phys) {
    PyObject *names = PyTuple_GET_ITEM(spec, 1), *specs = PyTuple_GET_ITEM(spec, 2);
    Py_ssize_t n = PyTuple_GET_SIZE(names);
    if (a->n_children != n) {
        shape_error("struct children");
        return NULL;
    }
    PyObject *dict = PyDict_New();
    if (dict == NULL) return NULL;
    for (Py_ssize_t k = 0; k < n; k++) {
        /* A struct's children are indexed like the struct, its offset included. */
        PyObject *v = value_at(w, a->children[k], PyTuple_GET_ITEM(specs, k), phys);
        if (v == NULL || PyDict_SetItem(dict, PyTuple_GET_ITEM(names, k), v) < 0) {
            Py_XDECREF(v);
            Py_DECREF(dict);
            return NULL;
        }
        Py_DECREF(v);
    }
    return dict;
}

static PyObject *list(Walk *w, const struct ArrowArray *a, PyObject *spec, int kind, int64_t phys) {
    int64_t start, end;
    if (kind == K_FIXED_LIST) {
        int64_t size = PyLong_AsLongLong(PyTuple_GET_ITEM(spec, 3));
        if (size < 0 && PyErr_Occurred()) return NULL;
        if (check(a, 1, 1, phys) < 0) return NULL;
        start = phys * size;
        end = start + size;
    } else {
        if (check(a, 2, 1, phys) < 0) return NULL;
        if (kind == K_LIST) {
            start = load_i32(a->buffers[1], phys);
            end = load_i32(a->buffers[1], phys + 1);
        } else {
            start = load_i64(a->buffers[1], phys);
            end = load_i64(a->buffers[1], phys + 1);
        }
    }
    const struct ArrowArray *child = a->children[0];
    PyObject *child_spec = PyTuple_GET_ITEM(spec, 1);
    PyObject *dtype = PyTuple_GET_ITEM(spec, 2);
    if (start < 0 || end < start || end > child->length) {
        shape_error("list bounds");
        return NULL;
    }
    if (dtype != Py_None && child->n_buffers == 2 &&
        (child->null_count == 0 || child->buffers[0] == NULL)) {
        int size = item_size((int)PyLong_AsLong(PyTuple_GET_ITEM(child_spec, 1)));
        if (size == 0) {
            shape_error("numeric list");
            return NULL;
        }
        Span *span = PyObject_New(Span, &SpanType);
        if (span == NULL) return NULL;
        Py_INCREF(w->owner);
        span->owner = w->owner;
        span->ptr = (const char *)child->buffers[1] + (child->offset + start) * size;
        span->len = (Py_ssize_t)((end - start) * size);
        PyObject *array =
            PyObject_CallFunctionObjArgs(w->frombuffer, (PyObject *)span, dtype, NULL);
        Py_DECREF(span);
        return array;
    }
    PyObject *items = PyList_New((Py_ssize_t)(end - start));
    if (items == NULL) return NULL;
    for (int64_t j = start; j < end; j++) {
        PyObject *v = value_at(w, child, child_spec, j);
        if (v == NULL) {
            Py_DECREF(items);
            return NULL;
        }
        PyList_SET_ITEM(items, (Py_ssize_t)(j - start), v);
    }
    return items;
}

/* The value at logical `index` of `a` (its own offset not yet applied). */
static PyObject *value_at(Walk *w, const struct ArrowArray *a, PyObject *spec, int64_t index) {
    int kind = (int)PyLong_AsLong(PyTuple_GET_ITEM(spec, 0));
    if (kind == -1 && PyErr_Occurred()) return NULL;
    int64_t phys = a->offset + index;
    if (a->n_buffers < 1 || index < 0 || index >= a->length) {
        shape_error("node");
        return NULL;
    }
    if (is_null(a, phys)) Py_RETURN_NONE;
    switch (kind) {
    case K_STRUCT:
        if (a->n_buffers != 1) {
            shape_error("struct buffers");
            return NULL;
        }
        return structure(w, a, spec, phys);
    case K_PRIM:
        if (check(a, 2, 0, phys) < 0) return NULL;
        return primitive(a, (int)PyLong_AsLong(PyTuple_GET_ITEM(spec, 1)), phys);
    case K_UTF8:
    case K_LARGE_UTF8: {
        if (check(a, 3, 0, phys) < 0) return NULL;
        int64_t start, end;
        if (kind == K_UTF8) {
            start = load_i32(a->buffers[1], phys);
            end = load_i32(a->buffers[1], phys + 1);
        } else {
            start = load_i64(a->buffers[1], phys);
            end = load_i64(a->buffers[1], phys + 1);
        }
        if (end < start) {
            shape_error("string offsets");
            return NULL;
        }
        return PyUnicode_DecodeUTF8((const char *)a->buffers[2] + start, (Py_ssize_t)(end - start),
                                    "strict");
    }
    case K_LIST:
    case K_LARGE_LIST:
    case K_FIXED_LIST:
        return list(w, a, spec, kind, phys);
    }
    shape_error("kind");
    return NULL;
}

static PyObject *rows(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *array, *spec, *frombuffer;
    if (!PyArg_ParseTuple(args, "OO!O", &array, &PyTuple_Type, &spec, &frombuffer)) return NULL;
    /* The Arrow PyCapsule interface: (schema capsule, array capsule); the array capsule's
     * destructor releases the export when the pair is dropped. */
    PyObject *pair = PyObject_CallMethod(array, "__arrow_c_array__", NULL);
    if (pair == NULL) return NULL;
    struct ArrowArray *exported = NULL;
    if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2 ||
        (exported = (struct ArrowArray *)PyCapsule_GetPointer(PyTuple_GET_ITEM(pair, 1),
                                                              "arrow_array")) == NULL) {
        Py_DECREF(pair);
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "no Arrow array capsule");
        return NULL;
    }
    if (exported->release == NULL) {
        Py_DECREF(pair);
        return PyErr_Format(PyExc_ValueError, "nothing was exported");
    }

    Walk w = {array, frombuffer};
    PyObject *result = NULL;
    if (PyTuple_GET_SIZE(spec) != 3 || PyLong_AsLong(PyTuple_GET_ITEM(spec, 0)) != K_STRUCT) {
        shape_error("not a struct");
    } else if ((result = PyList_New((Py_ssize_t)exported->length)) != NULL) {
        for (int64_t i = 0; i < exported->length; i++) {
            PyObject *row = value_at(&w, exported, spec, i);
            if (row == NULL) {
                Py_CLEAR(result);
                break;
            }
            PyList_SET_ITEM(result, (Py_ssize_t)i, row);
        }
    }
    Py_DECREF(pair);
    return result;
}


/* ---- Building: dict trees (as the CDR decoder makes them) -> struct ArrowArray trees ----------
 *
 * `build(row, spec, segments, held)` writes the nodes of a one-row struct array for `row` into
 * bytearrays it appends to `segments` and returns the root node in an "arrow_array" PyCapsule
 * (the Arrow PyCapsule interface), which arrow_build.py hands to `pa.array`. A numeric list whose value is a contiguous buffer
 * of the right element type and alignment is pointed at, not copied: a memoryview of it, which
 * pins it, goes into `held`. The root owns (segments, held) and drops them in `release_root`;
 * child nodes live in the segments and their release, `mark_released`, is never called by an
 * importer (Arrow releases only the root). Values the decoder never makes (None, numpy scalars,
 * lists of the wrong length) raise TypeError/ValueError/OverflowError/KeyError before anything
 * is owned: the caller then uses the Python builder, which converts or names the problem.
 */

static void mark_released(struct ArrowArray *a) { a->release = NULL; }

/* The root's release: drops the (segments, held) tuple that owns every node and pinned buffer.
 * Arrow may call it from any thread, so it takes the GIL, as pyarrow's own buffer release does,
 * and like it does nothing once the interpreter is gone. It runs no Python code of ours: a
 * signal handler's exception cannot surface here, and deallocating bytearrays, lists and
 * memoryviews cannot raise. */
static void release_root(struct ArrowArray *a) {
    PyObject *keep = (PyObject *)a->private_data;
    a->release = NULL;
    a->private_data = NULL;
    if (keep == NULL || !Py_IsInitialized()) return;
    PyGILState_STATE gil = PyGILState_Ensure();
    Py_DECREF(keep);
    PyGILState_Release(gil);
}

/* The destructor of the "arrow_array" capsule (the Arrow PyCapsule interface): releases the
 * tree unless a consumer moved it out (which marks the struct released), then frees the struct. */
static void release_capsule(PyObject *capsule) {
    struct ArrowArray *a = (struct ArrowArray *)PyCapsule_GetPointer(capsule, "arrow_array");
    if (a == NULL) {
        PyErr_Clear(); /* a destructor cannot report; the name is ours, so this never happens */
        return;
    }
    if (a->release != NULL) a->release(a);
    free(a);
}

typedef struct {
    PyObject *segments;
    PyObject *held;
    char *current;
    Py_ssize_t used, capacity;
} Arena;

static char *arena_alloc(Arena *arena, Py_ssize_t n) {
    n = (n + 7) & ~(Py_ssize_t)7;
    if (arena->current == NULL || arena->used + n > arena->capacity) {
        Py_ssize_t capacity = n > 4096 ? n : 4096;
        PyObject *segment = PyByteArray_FromStringAndSize(NULL, capacity);
        if (segment == NULL) return NULL;
        int failed = PyList_Append(arena->segments, segment);
        Py_DECREF(segment); /* the list holds it */
        if (failed) return NULL;
        arena->current = PyByteArray_AS_STRING(segment);
        arena->used = 0;
        arena->capacity = capacity;
    }
    char *p = arena->current + arena->used;
    arena->used += n;
    memset(p, 0, (size_t)n);
    return p;
}

static struct ArrowArray *new_node(Arena *arena, int64_t length, int n_buffers, int n_children) {
    char *p = arena_alloc(arena, 80 + 8 * (Py_ssize_t)(n_buffers + n_children));
    if (p == NULL) return NULL;
    struct ArrowArray *a = (struct ArrowArray *)p;
    a->length = length;
    a->n_buffers = n_buffers;
    a->n_children = n_children;
    a->buffers = (const void **)(p + 80);
    a->children = n_children ? (struct ArrowArray **)(p + 80 + 8 * n_buffers) : NULL;
    a->release = mark_released;
    return a;
}

static struct ArrowArray *column(Arena *arena, PyObject **items, Py_ssize_t n, PyObject *spec);

/* Ownership while building: only exact dicts, lists, tuples, str, int, float and bool are read
 * (anything else goes back to the Python builder), so no user code runs through a conversion.
 * Code can still run when an allocation triggers the garbage collector (a __del__ that changes
 * the row), so every value is held by a strong reference while it is read: dict values are
 * increfed, and lists are read through tuple copies. */

static void drop_all(PyObject **objects, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) Py_XDECREF(objects[i]);
    PyMem_Free(objects);
}

static int spec_int(PyObject *spec, Py_ssize_t i) {
    return (int)PyLong_AsLong(PyTuple_GET_ITEM(spec, i));
}

static struct ArrowArray *struct_column(Arena *arena, PyObject **items, Py_ssize_t n,
                                        PyObject *spec) {
    PyObject *names = PyTuple_GET_ITEM(spec, 1), *specs = PyTuple_GET_ITEM(spec, 2);
    Py_ssize_t k = PyTuple_GET_SIZE(names);
    for (Py_ssize_t i = 0; i < n; i++)
        if (!PyDict_CheckExact(items[i])) {
            PyErr_SetString(PyExc_TypeError, "a message must be a dict");
            return NULL;
        }
    struct ArrowArray *a = new_node(arena, n, 1, (int)k);
    if (a == NULL) return NULL;
    for (Py_ssize_t j = 0; j < k; j++) {
        PyObject *name = PyTuple_GET_ITEM(names, j);
        PyObject **values = PyMem_New(PyObject *, n ? n : 1);
        if (values == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        Py_ssize_t got = 0;
        for (; got < n; got++) {
            values[got] = PyDict_GetItemWithError(items[got], name);
            if (values[got] == NULL) {
                if (!PyErr_Occurred()) PyErr_Format(PyExc_KeyError, "%U", name);
                drop_all(values, got);
                return NULL;
            }
            Py_INCREF(values[got]);
        }
        a->children[j] = column(arena, values, n, PyTuple_GET_ITEM(specs, j));
        drop_all(values, n);
        if (a->children[j] == NULL) return NULL;
    }
    return a;
}

static int store_number(char *data, Py_ssize_t i, int code, PyObject *v) {
    if (!PyFloat_CheckExact(v) && !PyLong_CheckExact(v) && !PyBool_Check(v)) {
        PyErr_SetString(PyExc_TypeError, "a number is required");
        return -1;
    }
    if (code == 'f' || code == 'd') {
        double d = PyFloat_AsDouble(v);
        if (d == -1.0 && PyErr_Occurred()) return -1;
        if (code == 'd') {
            memcpy(data + i * 8, &d, 8);
        } else {
            float f = (float)d;
            if (isinf(f) && !isinf(d)) { /* as struct.pack: rounds, but never to infinity */
                PyErr_SetString(PyExc_OverflowError, "float too large to pack with f format");
                return -1;
            }
            memcpy(data + i * 4, &f, 4);
        }
        return 0;
    }
    if (PyFloat_CheckExact(v)) {
        PyErr_SetString(PyExc_TypeError, "an integer is required");
        return -1;
    }
    if (code == 'Q') {
        unsigned long long u = PyLong_AsUnsignedLongLong(v);
        if (u == (unsigned long long)-1 && PyErr_Occurred()) return -1;
        uint64_t u64 = (uint64_t)u;
        memcpy(data + i * 8, &u64, 8);
        return 0;
    }
    long long low, high;
    switch (code) {
    case 'b': low = INT8_MIN, high = INT8_MAX; break;
    case 'B': low = 0, high = UINT8_MAX; break;
    case 'h': low = INT16_MIN, high = INT16_MAX; break;
    case 'H': low = 0, high = UINT16_MAX; break;
    case 'i': low = INT32_MIN, high = INT32_MAX; break;
    case 'I': low = 0, high = UINT32_MAX; break;
    case 'q': low = LLONG_MIN, high = LLONG_MAX; break;
    default: PyErr_Format(PyExc_ValueError, "unknown primitive code %d", code); return -1;
    }
    int overflow;
    long long x = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (x == -1 && PyErr_Occurred()) return -1;
    if (overflow || x < low || x > high) {
        PyErr_SetString(PyExc_OverflowError, "integer out of range for its Arrow type");
        return -1;
    }
    /* In range, so the low bytes are the value (two's complement for the signed types). */
    switch (item_size(code)) {
    case 1: { uint8_t v = (uint8_t)x; memcpy(data + i, &v, 1); break; }
    case 2: { uint16_t v = (uint16_t)x; memcpy(data + i * 2, &v, 2); break; }
    case 4: { uint32_t v = (uint32_t)x; memcpy(data + i * 4, &v, 4); break; }
    default: { uint64_t v = (uint64_t)x; memcpy(data + i * 8, &v, 8); break; }
    }
    return 0;
}

static struct ArrowArray *primitive_column(Arena *arena, PyObject **items, Py_ssize_t n, int code) {
    struct ArrowArray *a = new_node(arena, n, 2, 0);
    if (a == NULL) return NULL;
    if (code == '?') {
        uint8_t *bits = (uint8_t *)arena_alloc(arena, (n + 7) / 8);
        if (bits == NULL) return NULL;
        for (Py_ssize_t i = 0; i < n; i++) {
            if (items[i] == Py_True) bits[i >> 3] |= (uint8_t)(1 << (i & 7));
            else if (items[i] != Py_False) {
                PyErr_SetString(PyExc_TypeError, "a bool is required");
                return NULL;
            }
        }
        a->buffers[1] = bits;
        return a;
    }
    int size = item_size(code);
    if (size == 0) {
        shape_error("primitive code");
        return NULL;
    }
    char *data = arena_alloc(arena, n * size);
    if (data == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++)
        if (store_number(data, i, code, items[i]) < 0) return NULL;
    a->buffers[1] = data;
    return a;
}

static struct ArrowArray *string_column(Arena *arena, PyObject **items, Py_ssize_t n, int large) {
    struct ArrowArray *a = new_node(arena, n, 3, 0);
    if (a == NULL) return NULL;
    char *offsets = arena_alloc(arena, (n + 1) * (large ? 8 : 4));
    if (offsets == NULL) return NULL;
    int64_t total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t len;
        if (!PyUnicode_CheckExact(items[i])) {
            PyErr_SetString(PyExc_TypeError, "a str is required");
            return NULL;
        }
        if (PyUnicode_AsUTF8AndSize(items[i], &len) == NULL) return NULL;
        total += len;
        if (large) memcpy(offsets + 8 * (i + 1), &total, 8);
        else if (total > INT32_MAX) {
            PyErr_SetString(PyExc_OverflowError, "more than 2 GiB of strings in one column");
            return NULL;
        } else {
            int32_t end = (int32_t)total;
            memcpy(offsets + 4 * (i + 1), &end, 4);
        }
    }
    char *data = arena_alloc(arena, total ? total : 1);
    if (data == NULL) return NULL;
    int64_t at = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t len;
        const char *utf8 = PyUnicode_AsUTF8AndSize(items[i], &len); /* cached by the str */
        memcpy(data + at, utf8, (size_t)len);
        at += len;
    }
    a->buffers[1] = offsets;
    a->buffers[2] = data;
    return a;
}

/* Whether a buffer's struct-module format holds elements of the primitive `code`. */
static int format_matches(const char *format, Py_ssize_t itemsize, int code) {
#if !PY_LITTLE_ENDIAN
    return 0; /* Arrow memory is native-endian; the Python builder handles big-endian hosts */
#endif
    if (format == NULL) format = "B";
    if (*format == '<' || *format == '=' || *format == '@') format++;
    if (format[0] == '\0' || format[1] != '\0' || itemsize != (code == '?' ? 1 : item_size(code)))
        return 0;
    char f = format[0];
    switch (code) {
    case '?': return f == '?';
    case 'b': case 'h': case 'i': case 'q': /* the size is checked above; 'l' is numpy's int64 */
        return strchr("bhilq", f) != NULL;
    case 'B': case 'H': case 'I': case 'Q':
        return strchr("BHILQ", f) != NULL;
    case 'f': case 'd':
        return f == 'f' || f == 'd';
    }
    return 0;
}

/* A 1-D buffer of elements `code` (a numpy array; never bytes, which the Python builder refuses
 * too), or -1 with no exception set if `item` is not one. On success the caller releases `view`. */
static int element_buffer(PyObject *item, Py_buffer *view, int code) {
    if (PyBytes_Check(item) || PyByteArray_Check(item) || !PyObject_CheckBuffer(item)) return -1;
    if (PyObject_GetBuffer(item, view, PyBUF_FORMAT | PyBUF_C_CONTIGUOUS) < 0) {
        PyErr_Clear();
        return -1;
    }
    if (view->ndim != 1 || !format_matches(view->format, view->itemsize, code)) {
        PyBuffer_Release(view);
        return -1;
    }
    return 0;
}

/* A list item as an owned tuple (a copy of a list: code run by the garbage collector cannot
 * change it under us), or NULL with TypeError. */
static PyObject *owned_items(PyObject *item) {
    if (PyTuple_CheckExact(item)) {
        Py_INCREF(item);
        return item;
    }
    if (PyList_CheckExact(item)) return PyList_AsTuple(item);
    PyErr_SetString(PyExc_TypeError, "a list, tuple or 1-D numpy array is required");
    return NULL;
}

/* The child node of `n` numeric (or bool) lists; sets lengths[i]. One aligned buffer (n == 1)
 * is pointed at and pinned in `held`; other buffers are copied; lists and tuples converted. */
static struct ArrowArray *numeric_values(Arena *arena, PyObject **items, Py_ssize_t n, int code,
                                         int64_t fixed, int64_t *lengths) {
    int is_bool = code == '?';
    int size = is_bool ? 1 : item_size(code);
    if (n == 1 && !is_bool && !PyBytes_Check(items[0]) && !PyByteArray_Check(items[0]) &&
        PyObject_CheckBuffer(items[0])) {
        /* One export, checked and used: the memoryview pins the memory (an exported buffer
         * cannot be resized) from the checks until the tree is released. */
        PyObject *hold = PyMemoryView_FromObject(items[0]);
        if (hold == NULL) return NULL;
        const Py_buffer *b = PyMemoryView_GET_BUFFER(hold);
        int usable = b->ndim == 1 && PyBuffer_IsContiguous(b, 'C') &&
                     format_matches(b->format, b->itemsize, code) &&
                     ((uintptr_t)b->buf % (uintptr_t)size) == 0 &&
                     (fixed < 0 || b->shape[0] == fixed);
        if (usable) {
            Py_ssize_t count = b->shape[0];
            const void *buf = b->buf;
            int failed = PyList_Append(arena->held, hold);
            Py_DECREF(hold); /* the list holds it */
            if (failed) return NULL;
            struct ArrowArray *values = new_node(arena, count, 2, 0);
            if (values == NULL) return NULL;
            values->buffers[1] = count ? buf : (const void *)EMPTY;
            lengths[0] = count;
            return values;
        }
        Py_DECREF(hold); /* unaligned, another type or length: the general case copies */
    }
    Py_buffer *views = PyMem_New(Py_buffer, n ? n : 1);
    PyObject **tuples = PyMem_New(PyObject *, n ? n : 1);
    struct ArrowArray *values = NULL;
    Py_ssize_t got = 0, total = 0;
    if (views == NULL || tuples == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (; got < n; got++) {
        tuples[got] = NULL;
        views[got].obj = NULL;
        if (element_buffer(items[got], &views[got], code) == 0) {
            lengths[got] = views[got].shape[0];
        } else {
            views[got].obj = NULL;
            if ((tuples[got] = owned_items(items[got])) == NULL) goto done;
            lengths[got] = PyTuple_GET_SIZE(tuples[got]);
        }
        if (fixed >= 0 && lengths[got] != fixed) {
            got++;
            PyErr_SetString(PyExc_ValueError, "a fixed array of the wrong length");
            goto done;
        }
        total += lengths[got];
    }
    struct ArrowArray *node = new_node(arena, total, 2, 0);
    char *data = node ? arena_alloc(arena, is_bool ? (total + 7) / 8 : total * size) : NULL;
    if (data == NULL) goto done;
    node->buffers[1] = data;
    Py_ssize_t at = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (views[i].obj != NULL && !is_bool) {
            memcpy(data + at * size, views[i].buf, (size_t)(lengths[i] * size));
            at += lengths[i];
        } else if (views[i].obj != NULL) {
            const uint8_t *bytes = (const uint8_t *)views[i].buf;
            for (Py_ssize_t j = 0; j < lengths[i]; j++, at++)
                if (bytes[j]) data[at >> 3] |= (char)(1 << (at & 7));
        } else {
            for (Py_ssize_t j = 0; j < lengths[i]; j++, at++) {
                PyObject *element = PyTuple_GET_ITEM(tuples[i], j);
                if (!is_bool) {
                    if (store_number(data, at, code, element) < 0) goto done;
                } else if (element == Py_True) {
                    data[at >> 3] |= (char)(1 << (at & 7));
                } else if (element != Py_False) {
                    PyErr_SetString(PyExc_TypeError, "a bool is required");
                    goto done;
                }
            }
        }
    }
    values = node;
done:
    for (Py_ssize_t i = 0; i < got; i++) {
        if (views[i].obj != NULL) PyBuffer_Release(&views[i]);
        Py_XDECREF(tuples[i]);
    }
    PyMem_Free(views);
    PyMem_Free(tuples);
    return values;
}

static struct ArrowArray *list_column(Arena *arena, PyObject **items, Py_ssize_t n,
                                      PyObject *spec, int kind) {
    PyObject *child_spec = PyTuple_GET_ITEM(spec, 1);
    int64_t fixed = -1;
    if (kind == K_FIXED_LIST) {
        fixed = PyLong_AsLongLong(PyTuple_GET_ITEM(spec, 3));
        if (fixed < 0) {
            if (!PyErr_Occurred()) shape_error("size");
            return NULL;
        }
    }
    struct ArrowArray *a = new_node(arena, n, kind == K_FIXED_LIST ? 1 : 2, 1);
    if (a == NULL) return NULL;
    int64_t *lengths = PyMem_New(int64_t, n ? n : 1);
    if (lengths == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    struct ArrowArray *values = NULL;
    int child_kind = spec_int(child_spec, 0);
    if (PyTuple_GET_ITEM(spec, 2) != Py_None ||
        (child_kind == K_PRIM && spec_int(child_spec, 1) == '?')) {
        values = numeric_values(arena, items, n, spec_int(child_spec, 1), fixed, lengths);
    } else {
        /* Flatten the lists into one column of their elements, read through owned tuples. */
        PyObject **tuples = PyMem_New(PyObject *, n ? n : 1);
        if (tuples == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        Py_ssize_t got = 0, total = 0;
        int failed = 0;
        for (; got < n && !failed; got++) {
            if ((tuples[got] = owned_items(items[got])) == NULL) {
                failed = 1;
                break;
            }
            lengths[got] = PyTuple_GET_SIZE(tuples[got]);
            if (fixed >= 0 && lengths[got] != fixed) {
                PyErr_SetString(PyExc_ValueError, "a fixed array of the wrong length");
                failed = 1;
            }
            total += lengths[got];
        }
        PyObject **flat = failed ? NULL : PyMem_New(PyObject *, total ? total : 1);
        if (!failed && flat == NULL) PyErr_NoMemory();
        if (flat != NULL) {
            Py_ssize_t at = 0;
            for (Py_ssize_t i = 0; i < n; i++)
                for (Py_ssize_t j = 0; j < lengths[i]; j++)
                    flat[at++] = PyTuple_GET_ITEM(tuples[i], j); /* the tuples own them */
            values = column(arena, flat, total, child_spec);
            PyMem_Free(flat);
        }
        drop_all(tuples, got);
    }
    if (values == NULL) goto done;
    a->children[0] = values;
    if (kind != K_FIXED_LIST) {
        int large = kind == K_LARGE_LIST;
        char *offsets = arena_alloc(arena, (n + 1) * (large ? 8 : 4));
        if (offsets == NULL) goto done;
        int64_t total = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            total += lengths[i];
            if (large) memcpy(offsets + 8 * (i + 1), &total, 8);
            else if (total > INT32_MAX) {
                PyErr_SetString(PyExc_OverflowError, "more than 2**31 list elements in one column");
                goto done;
            } else {
                int32_t end = (int32_t)total;
                memcpy(offsets + 4 * (i + 1), &end, 4);
            }
        }
        a->buffers[1] = offsets;
    }
    PyMem_Free(lengths);
    return a;
done:
    PyMem_Free(lengths);
    if (!PyErr_Occurred()) shape_error("list");
    return NULL;
}

static struct ArrowArray *column(Arena *arena, PyObject **items, Py_ssize_t n, PyObject *spec) {
    for (Py_ssize_t i = 0; i < n; i++)
        if (items[i] == Py_None) {
            PyErr_SetString(PyExc_TypeError, "None has no Arrow value here");
            return NULL;
        }
    int kind = spec_int(spec, 0);
    switch (kind) {
    case K_STRUCT: return struct_column(arena, items, n, spec);
    case K_PRIM: return primitive_column(arena, items, n, spec_int(spec, 1));
    case K_UTF8: return string_column(arena, items, n, 0);
    case K_LARGE_UTF8: return string_column(arena, items, n, 1);
    case K_LIST:
    case K_LARGE_LIST:
    case K_FIXED_LIST: return list_column(arena, items, n, spec, kind);
    }
    shape_error("kind");
    return NULL;
}

static PyObject *build(PyObject *module, PyObject *args) {
    (void)module;
    PyObject *row, *spec, *segments, *held;
    if (!PyArg_ParseTuple(args, "OO!O!O!", &row, &PyTuple_Type, &spec, &PyList_Type, &segments,
                          &PyList_Type, &held))
        return NULL;
    if (PyList_GET_SIZE(segments) != 0 || PyTuple_GET_SIZE(spec) != 3 ||
        spec_int(spec, 0) != K_STRUCT) {
        PyErr_SetString(PyExc_ValueError, "build needs a struct spec and an empty segment list");
        return NULL;
    }
    Arena arena = {segments, held, NULL, 0, 0};
    /* The root node lives in the capsule (malloc'ed: a consumer moves it out and the capsule
     * frees it); its buffer and children lists go to the arena. */
    Py_ssize_t k = PyTuple_GET_SIZE(PyTuple_GET_ITEM(spec, 1));
    char *lists = arena_alloc(&arena, 8 + 8 * k);
    if (lists == NULL) return NULL;
    struct ArrowArray node;
    memset(&node, 0, sizeof node);
    node.length = 1;
    node.n_buffers = 1;
    node.n_children = k;
    node.buffers = (const void **)lists;
    node.children = (struct ArrowArray **)(lists + 8);
    if (!PyDict_CheckExact(row)) {
        PyErr_SetString(PyExc_TypeError, "a message must be a dict");
        return NULL;
    }
    PyObject *names = PyTuple_GET_ITEM(spec, 1), *specs = PyTuple_GET_ITEM(spec, 2);
    for (Py_ssize_t j = 0; j < k; j++) {
        PyObject *value = PyDict_GetItemWithError(row, PyTuple_GET_ITEM(names, j));
        if (value == NULL) {
            if (!PyErr_Occurred()) PyErr_Format(PyExc_KeyError, "%U", PyTuple_GET_ITEM(names, j));
            return NULL;
        }
        Py_INCREF(value); /* see "Ownership while building" */
        node.children[j] = column(&arena, &value, 1, PyTuple_GET_ITEM(specs, j));
        Py_DECREF(value);
        if (node.children[j] == NULL) return NULL;
    }
    /* Ownership last, once nothing but the import can fail: from here the capsule owns the
     * tree and releases it if no consumer moves it out. */
    struct ArrowArray *root = (struct ArrowArray *)malloc(sizeof *root);
    if (root == NULL) return PyErr_NoMemory();
    PyObject *keep = PyTuple_Pack(2, segments, held);
    if (keep == NULL) {
        free(root);
        return NULL;
    }
    *root = node;
    root->private_data = keep;
    root->release = release_root;
    PyObject *capsule = PyCapsule_New(root, "arrow_array", release_capsule);
    if (capsule == NULL) {
        release_root(root);
        free(root);
    }
    return capsule;
}

static PyMethodDef methods[] = {
    {"build", build, METH_VARARGS,
     "build(row, spec, segments, held) -> an 'arrow_array' PyCapsule of a one-row struct array "
     "(see the module)."},
    {"rows", rows, METH_VARARGS,
     "rows(array, spec, frombuffer) -> list: the rows of a struct array as dicts (see the "
     "module)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_arrow_native",
    .m_doc = "Rows of Arrow struct arrays as dicts and one-row struct arrays from dicts, through "
             "the Arrow C data interface.",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__arrow_native(void) {
    if (PyType_Ready(&SpanType) < 0) return NULL;
    return PyModule_Create(&module);
}
