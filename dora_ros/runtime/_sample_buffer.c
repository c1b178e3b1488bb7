/* The runtime's two small buffer exporters, which Python 3.11 cannot write in Python (PEP 688
 * came in 3.12):
 *
 * SampleBuffer: the buffer a SampleHandler hands out (see sample.py), as dora-rs 1.1's. dora-rs's
 * zero-copy contract counts the views taken of the buffer (send() refuses while any is alive) and
 * refuses new views with BufferError once the sample was sent or dropped. This type does exactly
 * that over a writable "owner" (an mmap of the sample's shared-memory region, or a bytearray below
 * 4 KiB), whose buffer it holds while it is usable.
 *
 * SharedSlice (shared_slice()): a receiver's lease on one shared-memory message (transport.py).
 * It exports the first `nbytes` bytes of the receiver's read-only mapping of the sender's region,
 * holding the mapping's buffer while it lives; pa.py_buffer() over it is the message's Arrow
 * buffer, without a copy. When the last Arrow buffer over it dies, it appends its `item` (region
 * id, generation) to `releases`, which the receiver sends back to the sender as a RELEASE record.
 *
 * Both are optional: without a C compiler, sample.py hands out the owner itself (views are still
 * detected, through the owner's own export count; only the BufferError after send() differs), and
 * transport.py wraps the mapping with pa.foreign_buffer and a Python object whose __del__ does
 * the append (the same behaviour, ~0.3 us more per received message).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

typedef struct {
    PyObject_HEAD
    Py_buffer owner;      /* our export of the owner while `held` */
    int held;
    int valid;            /* new views allowed */
    Py_ssize_t exports;   /* views taken through us and not released yet */
} SampleBuffer;

static int
SampleBuffer_init(SampleBuffer *self, PyObject *args, PyObject *kwds)
{
    PyObject *owner;
    static char *kwlist[] = {"owner", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O", kwlist, &owner)) {
        return -1;
    }
    if (self->held) {
        PyErr_SetString(PyExc_RuntimeError, "SampleBuffer is already initialised");
        return -1;
    }
    if (PyObject_GetBuffer(owner, &self->owner, PyBUF_WRITABLE | PyBUF_SIMPLE) < 0) {
        return -1;
    }
    self->held = 1;
    self->valid = 1;
    self->exports = 0;
    return 0;
}

static void
SampleBuffer_dealloc(SampleBuffer *self)
{
    if (self->held) {
        PyBuffer_Release(&self->owner);
        self->held = 0;
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int
SampleBuffer_getbuffer(SampleBuffer *self, Py_buffer *view, int flags)
{
    if (!self->valid || !self->held) {
        PyErr_SetString(PyExc_BufferError,
                        "the sample was sent or dropped: its buffer can no longer be viewed");
        view->obj = NULL;
        return -1;
    }
    if (PyBuffer_FillInfo(view, (PyObject *)self, self->owner.buf, self->owner.len, 0, flags) < 0) {
        return -1;
    }
    self->exports++;
    return 0;
}

static void
SampleBuffer_releasebuffer(SampleBuffer *self, Py_buffer *view)
{
    (void)view;
    self->exports--;
}

static PyBufferProcs SampleBuffer_as_buffer = {
    (getbufferproc)SampleBuffer_getbuffer,
    (releasebufferproc)SampleBuffer_releasebuffer,
};

static PyObject *
SampleBuffer_invalidate(SampleBuffer *self, PyObject *Py_UNUSED(ignored))
{
    self->valid = 0;
    Py_RETURN_NONE;
}

static PyObject *
SampleBuffer_release_owner(SampleBuffer *self, PyObject *Py_UNUSED(ignored))
{
    /* Let go of the owner once no view is left; returns whether it was let go. */
    if (self->exports > 0) {
        Py_RETURN_FALSE;
    }
    self->valid = 0;
    if (self->held) {
        PyBuffer_Release(&self->owner);
        self->held = 0;
    }
    Py_RETURN_TRUE;
}

static PyObject *
SampleBuffer_get_exports(SampleBuffer *self, void *Py_UNUSED(closure))
{
    return PyLong_FromSsize_t(self->exports);
}

static Py_ssize_t
SampleBuffer_len(SampleBuffer *self)
{
    return self->held ? self->owner.len : 0;
}

static PyMethodDef SampleBuffer_methods[] = {
    {"invalidate", (PyCFunction)SampleBuffer_invalidate, METH_NOARGS,
     "Refuse new views from now on (views already taken stay valid)."},
    {"release_owner", (PyCFunction)SampleBuffer_release_owner, METH_NOARGS,
     "Let go of the owner's buffer if no view is left; True when it was let go."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef SampleBuffer_getset[] = {
    {"exports", (getter)SampleBuffer_get_exports, NULL, "Views taken and not released.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods SampleBuffer_as_sequence = {
    .sq_length = (lenfunc)SampleBuffer_len,
};

static PyTypeObject SampleBufferType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "dora_ros.runtime._sample_buffer.SampleBuffer",
    .tp_doc = "A writable buffer that counts its views and can refuse new ones.",
    .tp_basicsize = sizeof(SampleBuffer),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)SampleBuffer_init,
    .tp_dealloc = (destructor)SampleBuffer_dealloc,
    .tp_as_buffer = &SampleBuffer_as_buffer,
    .tp_as_sequence = &SampleBuffer_as_sequence,
    .tp_methods = SampleBuffer_methods,
    .tp_getset = SampleBuffer_getset,
};

/* --- SharedSlice ------------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    Py_buffer owner;      /* our export of the mapping while `held` */
    int held;
    Py_ssize_t nbytes;    /* what we export: the first nbytes of the owner */
    PyObject *releases;   /* appended `item` when we die (a deque or list) */
    PyObject *item;
} SharedSlice;

static PyObject *append_name; /* "append", interned once */

static int
SharedSlice_getbuffer(SharedSlice *self, Py_buffer *view, int flags)
{
    /* Read-only: a receiver never writes into its sender's memory. */
    return PyBuffer_FillInfo(view, (PyObject *)self, self->owner.buf, self->nbytes, 1, flags);
}

static PyBufferProcs SharedSlice_as_buffer = {
    (getbufferproc)SharedSlice_getbuffer,
    NULL,
};

static void
SharedSlice_dealloc(SharedSlice *self)
{
    /* Runs where the last Arrow buffer died, maybe while an exception is being raised: keep it. */
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    if (self->held) {
        PyBuffer_Release(&self->owner);
        self->held = 0;
    }
    if (self->releases != NULL && self->item != NULL) {
        PyObject *done = PyObject_CallMethodOneArg(self->releases, append_name, self->item);
        if (done == NULL) {
            PyErr_WriteUnraisable(self->releases);
        }
        else {
            Py_DECREF(done);
        }
    }
    Py_CLEAR(self->releases);
    Py_CLEAR(self->item);
    PyErr_Restore(type, value, traceback);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static Py_ssize_t
SharedSlice_len(SharedSlice *self)
{
    return self->nbytes;
}

static PySequenceMethods SharedSlice_as_sequence = {
    .sq_length = (lenfunc)SharedSlice_len,
};

static PyTypeObject SharedSliceType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "dora_ros.runtime._sample_buffer.SharedSlice",
    .tp_doc = "A read-only view of a received shared-memory message; releases it when it dies.",
    .tp_basicsize = sizeof(SharedSlice),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)SharedSlice_dealloc,
    .tp_as_buffer = &SharedSlice_as_buffer,
    .tp_as_sequence = &SharedSlice_as_sequence,
};

static PyObject *
shared_slice(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    /* shared_slice(owner, nbytes, releases, item): METH_FASTCALL, as it runs once per message. */
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "shared_slice(owner, nbytes, releases, item)");
        return NULL;
    }
    Py_ssize_t nbytes = PyLong_AsSsize_t(args[1]);
    if (nbytes == -1 && PyErr_Occurred()) {
        return NULL;
    }
    SharedSlice *self = PyObject_New(SharedSlice, &SharedSliceType);
    if (self == NULL) {
        return NULL;
    }
    self->held = 0;
    self->nbytes = 0;
    self->releases = NULL;
    self->item = NULL;
    if (PyObject_GetBuffer(args[0], &self->owner, PyBUF_SIMPLE) < 0) {
        Py_DECREF(self);
        return NULL;
    }
    self->held = 1;
    if (nbytes < 0 || nbytes > self->owner.len) {
        PyErr_Format(PyExc_ValueError, "shared_slice: %zd bytes do not fit in a mapping of %zd",
                     nbytes, self->owner.len);
        Py_DECREF(self);
        return NULL;
    }
    self->nbytes = nbytes;
    Py_INCREF(args[2]);
    self->releases = args[2];
    Py_INCREF(args[3]);
    self->item = args[3];
    return (PyObject *)self;
}

static PyMethodDef module_functions[] = {
    {"shared_slice", (PyCFunction)(void (*)(void))shared_slice, METH_FASTCALL,
     "shared_slice(owner, nbytes, releases, item): a read-only export of owner's first nbytes;\n"
     "appends item to releases when it dies."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef sample_buffer_module = {
    PyModuleDef_HEAD_INIT, "_sample_buffer",
    "SampleBuffer for SampleHandler (sample.py); shared_slice for received shared memory.", -1,
    module_functions, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__sample_buffer(void)
{
    if (PyType_Ready(&SampleBufferType) < 0 || PyType_Ready(&SharedSliceType) < 0) {
        return NULL;
    }
    append_name = PyUnicode_InternFromString("append");
    if (append_name == NULL) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&sample_buffer_module);
    if (module == NULL) {
        return NULL;
    }
    Py_INCREF(&SampleBufferType);
    if (PyModule_AddObject(module, "SampleBuffer", (PyObject *)&SampleBufferType) < 0) {
        Py_DECREF(&SampleBufferType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
