/* SampleBuffer: the buffer a SampleHandler hands out (see sample.py), as dora-rs 1.1's.
 *
 * Python 3.11 has no way to write a buffer exporter in Python (PEP 688 came in 3.12), and
 * dora-rs's zero-copy contract needs one: it counts the views taken of the buffer (send() refuses
 * while any is alive) and refuses new views with BufferError once the sample was sent or dropped.
 * This type does exactly that over a writable "owner" (an mmap of the sample's shared-memory
 * region, or a bytearray below 4 KiB), whose buffer it holds while it is usable.
 *
 * Optional: without a C compiler, sample.py falls back to handing out the owner itself (views
 * are still detected, through the owner's own export count; only the BufferError after send()
 * differs).
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

static struct PyModuleDef sample_buffer_module = {
    PyModuleDef_HEAD_INIT, "_sample_buffer", "SampleBuffer for SampleHandler (sample.py).", -1,
    NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__sample_buffer(void)
{
    if (PyType_Ready(&SampleBufferType) < 0) {
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
