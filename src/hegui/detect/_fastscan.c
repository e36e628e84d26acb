/*
 * hegui.detect._fastscan: one pass over a Python str that folds every character
 * (width, case, traditional -> simplified, invisible characters, separators) through a
 * table and runs an Aho-Corasick automaton over the folded stream, reporting matches
 * as spans of the ORIGINAL string.
 *
 * The fold table is built in Python (hegui.detect._normalize) and handed over as a
 * buffer of uint32 values, one per code point below FOLD_LIMIT:
 *   0          the character is invisible and dropped (zero-width, format, ...)
 *   1          a soft separator: skipped inside a match, at most max_gap in a row
 *   2          a hard break: no match spans it
 *   otherwise  bits 0..20 hold the folded code point, bit 31 says "word character"
 *              (a letter or digit of a space-delimited script, for word boundaries).
 *
 * Streaming: scan(text, start, final=False) reports only matches whose outcome can no
 * longer change when more text arrives, and returns `safe`, the first index that may
 * still belong to a match; the caller rescans from there when the next chunk comes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FOLD_LIMIT 0x30000u
#define F_DROP 0u
#define F_SEP 1u
#define F_BREAK 2u
#define F_WORD 0x80000000u
#define F_CP 0x1FFFFFu

typedef struct { uint32_t c; int32_t t; } Edge;
/* outl: the node itself when a pattern ends here, else its dictionary link (0: none). */
typedef struct { int32_t first; int32_t count; int32_t fail; int32_t outl; } Node;

typedef struct {
    PyObject_HEAD
    uint32_t *fold;        /* FOLD_LIMIT entries */
    int32_t *root_next;    /* FOLD_LIMIT entries: child of the root per code point, -1 none */
    int32_t n_nodes;
    Node *nodes;           /* hot per-node data, one 16-byte record each */
    Edge *edges;           /* children of each node, sorted by character */
    int32_t *out;          /* pattern id ending at the node, -1 none */
    int32_t *dict_link;    /* nearest proper suffix node with an output, 0 none */
    int32_t *depth;
    int32_t n_patterns;
    int32_t *pat_len;
    uint8_t *pat_word;
    uint8_t *veto_prefix;  /* node lies on the path of a veto (allowlist) pattern */
    int32_t max_len;
    int32_t max_gap;
    uint32_t ring_mask;
} Matcher;

static inline uint32_t fold_cp(const uint32_t *fold, uint32_t c) {
    if (c < FOLD_LIMIT) return fold[c];
    if ((c >= 0xE0000u && c <= 0xE007Fu) || (c >= 0xE0100u && c <= 0xE01EFu)) return F_DROP;
    return c;
}

static inline int32_t find_edge(const Edge *e, int32_t count, uint32_t c) {
    int32_t lo = 0, hi = count;
    while (hi - lo > 4) {
        int32_t mid = (lo + hi) >> 1;
        if (e[mid].c <= c) lo = mid; else hi = mid;
    }
    for (int32_t i = lo; i < hi; i++)
        if (e[i].c == c) return e[i].t;
    return -1;
}

static inline int32_t child(const Matcher *m, int32_t node, uint32_t c) {
    if (node == 0 && c < FOLD_LIMIT) return m->root_next[c];
    const Node *nd = &m->nodes[node];
    return find_edge(m->edges + nd->first, nd->count, c);
}

/* ---- construction ------------------------------------------------------------ */

typedef struct { uint64_t key; int32_t val; } Slot;

static uint64_t mix64(uint64_t x) {
    x ^= x >> 33; x *= 0xff51afd7ed558ccdULL; x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL; x ^= x >> 33;
    return x;
}

static int edge_cmp(const void *a, const void *b) {
    uint32_t x = ((const Edge *)a)->c, y = ((const Edge *)b)->c;
    return (x > y) - (x < y);
}

static int build(Matcher *m, PyObject *patterns) {
    Py_ssize_t np = PyList_GET_SIZE(patterns);
    Py_ssize_t total = 1;
    for (Py_ssize_t i = 0; i < np; i++) total += PyUnicode_GET_LENGTH(PyList_GET_ITEM(patterns, i));
    if (total > INT32_MAX / 4) { PyErr_SetString(PyExc_ValueError, "lexicon too large"); return -1; }
    size_t cap = 16;
    while (cap < (size_t)total * 2) cap <<= 1;
    Slot *tab = malloc(cap * sizeof(Slot));
    int32_t *parent = malloc((size_t)total * sizeof(int32_t));
    uint32_t *pchar = malloc((size_t)total * sizeof(uint32_t));
    m->out = malloc((size_t)total * sizeof(int32_t));
    m->depth = malloc((size_t)total * sizeof(int32_t));
    m->pat_len = malloc((size_t)(np ? np : 1) * sizeof(int32_t));
    if (!tab || !parent || !pchar || !m->out || !m->depth || !m->pat_len) goto nomem;
    for (size_t i = 0; i < cap; i++) tab[i].key = UINT64_MAX;
    int32_t n = 1;
    m->out[0] = -1; m->depth[0] = 0; parent[0] = -1; pchar[0] = 0;
    m->max_len = 1;
    for (Py_ssize_t p = 0; p < np; p++) {
        PyObject *s = PyList_GET_ITEM(patterns, p);
        Py_ssize_t len = PyUnicode_GET_LENGTH(s);
        int kind = PyUnicode_KIND(s);
        const void *data = PyUnicode_DATA(s);
        int32_t node = 0;
        for (Py_ssize_t i = 0; i < len; i++) {
            uint32_t c = PyUnicode_READ(kind, data, i);
            uint64_t key = ((uint64_t)node << 21) | c;
            size_t h = mix64(key) & (cap - 1);
            while (tab[h].key != UINT64_MAX && tab[h].key != key) h = (h + 1) & (cap - 1);
            if (tab[h].key == key) { node = tab[h].val; continue; }
            tab[h].key = key; tab[h].val = n;
            parent[n] = node; pchar[n] = c; m->out[n] = -1; m->depth[n] = m->depth[node] + 1;
            node = n++;
        }
        if (len == 0) { PyErr_Format(PyExc_ValueError, "pattern %zd is empty after folding", p); goto fail; }
        if (m->out[node] < 0) m->out[node] = (int32_t)p;
        m->pat_len[p] = (int32_t)len;
        if (len > m->max_len) m->max_len = (int32_t)len;
    }
    free(tab); tab = NULL;
    m->n_nodes = n;
    /* Edges grouped by parent and sorted by character. */
    m->nodes = calloc((size_t)n, sizeof(Node));
    m->edges = malloc((size_t)n * sizeof(Edge));
    m->root_next = malloc(FOLD_LIMIT * sizeof(int32_t));
    int32_t *fill = malloc((size_t)n * sizeof(int32_t));
    if (!m->nodes || !m->edges || !m->root_next || !fill) { free(fill); goto nomem; }
    for (int32_t v = 1; v < n; v++) m->nodes[parent[v]].count++;
    int32_t acc = 0;
    for (int32_t u = 0; u < n; u++) { m->nodes[u].first = acc; fill[u] = acc; acc += m->nodes[u].count; }
    for (int32_t v = 1; v < n; v++) { int32_t at = fill[parent[v]]++; m->edges[at].c = pchar[v]; m->edges[at].t = v; }
    free(fill);
    for (int32_t u = 0; u < n; u++)
        if (m->nodes[u].count > 1)
            qsort(m->edges + m->nodes[u].first, (size_t)m->nodes[u].count, sizeof(Edge), edge_cmp);
    for (uint32_t c = 0; c < FOLD_LIMIT; c++) m->root_next[c] = -1;
    for (int32_t i = 0; i < m->nodes[0].count; i++)
        if (m->edges[i].c < FOLD_LIMIT) m->root_next[m->edges[i].c] = m->edges[i].t;
    /* Failure and dictionary links, breadth first. */
    m->dict_link = malloc((size_t)n * sizeof(int32_t));
    int32_t *queue = malloc((size_t)n * sizeof(int32_t));
    if (!m->dict_link || !queue) { free(queue); goto nomem; }
    m->nodes[0].fail = 0; m->dict_link[0] = 0; m->nodes[0].outl = 0;
    int32_t qh = 0, qt = 0;
    queue[qt++] = 0;
    while (qh < qt) {
        int32_t u = queue[qh++];
        for (int32_t e = m->nodes[u].first; e < m->nodes[u].first + m->nodes[u].count; e++) {
            int32_t v = m->edges[e].t;
            uint32_t c = m->edges[e].c;
            int32_t f = 0;
            if (u != 0) {
                int32_t g = m->nodes[u].fail;
                for (;;) {
                    int32_t t = child(m, g, c);
                    if (t >= 0) { f = t; break; }
                    if (g == 0) break;
                    g = m->nodes[g].fail;
                }
            }
            m->nodes[v].fail = f;
            m->dict_link[v] = m->out[f] >= 0 ? f : m->dict_link[f];
            m->nodes[v].outl = m->out[v] >= 0 ? v : m->dict_link[v];
            queue[qt++] = v;
        }
    }
    free(queue);
    free(parent); free(pchar);
    uint32_t ring = 1;
    while (ring < (uint32_t)m->max_len + 2) ring <<= 1;
    m->ring_mask = ring - 1;
    return 0;
nomem:
    PyErr_NoMemory();
fail:
    free(tab); free(parent); free(pchar);
    return -1;
}

static void Matcher_dealloc(Matcher *m) {
    free(m->fold); free(m->root_next); free(m->nodes); free(m->edges); free(m->out); free(m->dict_link); free(m->depth);
    free(m->pat_len); free(m->pat_word); free(m->veto_prefix);
    Py_TYPE(m)->tp_free((PyObject *)m);
}

static int Matcher_init(Matcher *m, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"fold", "patterns", "word", "max_gap", "veto", NULL};
    Py_buffer fold;
    PyObject *patterns;
    Py_buffer word;
    Py_buffer veto = {0};
    int max_gap = 3;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*O!y*|iy*", kwlist, &fold, &PyList_Type, &patterns,
                                     &word, &max_gap, &veto))
        return -1;
    int rc = -1;
    if (m->fold) { PyErr_SetString(PyExc_RuntimeError, "Matcher is already initialised"); goto done; }
    if ((size_t)fold.len != FOLD_LIMIT * sizeof(uint32_t)) {
        PyErr_Format(PyExc_ValueError, "fold table must hold %u uint32 values", FOLD_LIMIT);
        goto done;
    }
    if (word.len != PyList_GET_SIZE(patterns)) {
        PyErr_SetString(PyExc_ValueError, "word flags and patterns differ in length");
        goto done;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(patterns); i++) {
        if (!PyUnicode_Check(PyList_GET_ITEM(patterns, i))) {
            PyErr_Format(PyExc_TypeError, "pattern %zd is not a str", i);
            goto done;
        }
    }
    if (max_gap < 0) { PyErr_SetString(PyExc_ValueError, "max_gap must be >= 0"); goto done; }
    if (veto.buf && veto.len != PyList_GET_SIZE(patterns)) {
        PyErr_SetString(PyExc_ValueError, "veto flags and patterns differ in length");
        goto done;
    }
    m->max_gap = max_gap;
    m->fold = malloc(FOLD_LIMIT * sizeof(uint32_t));
    m->n_patterns = (int32_t)PyList_GET_SIZE(patterns);
    m->pat_word = malloc((size_t)(m->n_patterns ? m->n_patterns : 1));
    if (!m->fold || !m->pat_word) { PyErr_NoMemory(); goto done; }
    memcpy(m->fold, fold.buf, FOLD_LIMIT * sizeof(uint32_t));
    memcpy(m->pat_word, word.buf, (size_t)m->n_patterns);
    rc = build(m, patterns);
    if (rc == 0) {
        m->veto_prefix = calloc((size_t)m->n_nodes, 1);
        if (!m->veto_prefix) { PyErr_NoMemory(); rc = -1; goto done; }
        const uint8_t *vb = veto.buf;
        for (Py_ssize_t p = 0; vb && p < PyList_GET_SIZE(patterns); p++) {
            if (!vb[p]) continue;
            PyObject *str = PyList_GET_ITEM(patterns, p);
            int pk = PyUnicode_KIND(str);
            const void *pd = PyUnicode_DATA(str);
            int32_t node = 0;
            for (Py_ssize_t i = 0; i < PyUnicode_GET_LENGTH(str) && node >= 0; i++) {
                node = child(m, node, PyUnicode_READ(pk, pd, i));
                if (node > 0) m->veto_prefix[node] = 1;
            }
        }
    }
done:
    PyBuffer_Release(&fold);
    PyBuffer_Release(&word);
    if (veto.buf) PyBuffer_Release(&veto);
    return rc;
}

/* ---- scanning ------------------------------------------------------------------ */

typedef struct { Py_ssize_t orig; uint8_t pre_boundary; } Pos;
typedef struct { Py_ssize_t start, end, k_start; int32_t pat; uint8_t open; } Hit;

typedef struct {
    Hit *v; Py_ssize_t n, cap;
} Hits;

static int hits_push(Hits *h, Hit x) {
    if (h->n == h->cap) {
        Py_ssize_t nc = h->cap ? h->cap * 2 : 16;
        Hit *nv = realloc(h->v, (size_t)nc * sizeof(Hit));
        if (!nv) return -1;
        h->v = nv; h->cap = nc;
    }
    h->v[h->n++] = x;
    return 0;
}

/* Boundary after a word pattern ending at original index i: 1 yes, 0 no, -1 unknown yet. */
static inline int after_boundary(const Matcher *m, int kind, const void *data, Py_ssize_t i, Py_ssize_t n) {
    for (Py_ssize_t j = i + 1; j < n; j++) {
        uint32_t v = fold_cp(m->fold, PyUnicode_READ(kind, data, j));
        if (v == F_DROP) continue;
        if (v == F_SEP || v == F_BREAK) return 1;
        return (v & F_WORD) ? 0 : 1;
    }
    return -1;
}

static inline int before_boundary(const Matcher *m, int kind, const void *data, Py_ssize_t start) {
    for (Py_ssize_t j = start - 1; j >= 0; j--) {
        uint32_t v = fold_cp(m->fold, PyUnicode_READ(kind, data, j));
        if (v == F_DROP) continue;
        if (v == F_SEP || v == F_BREAK) return 1;
        return (v & F_WORD) ? 0 : 1;
    }
    return 1;
}

static inline __attribute__((always_inline)) int scan_kind(
    const Matcher *m, int kind, const void *data, Py_ssize_t n, Py_ssize_t start, int final,
    Pos *ring, Hits *hits, Py_ssize_t *safe_out, Py_ssize_t *k_out, int32_t *state_out,
    Py_ssize_t *k_end) {
    const uint32_t *fold = m->fold;
    const int32_t *root_next = m->root_next;
    const Node *nodes = m->nodes;
    const Edge *edges = m->edges;
    const int32_t *out = m->out, *dict_link = m->dict_link, *pat_len = m->pat_len;
    const uint8_t *pat_word = m->pat_word;
    const uint32_t rmask = m->ring_mask;
    const int max_gap = m->max_gap;
    int32_t state = 0;
    Py_ssize_t k = 0;
    int gap = 0;
    int pending_boundary = before_boundary(m, kind, data, start);
    int prev_word = 1; /* what lies before `start` is captured by pending_boundary */
    for (Py_ssize_t i = start; i < n; i++) {
        uint32_t c = PyUnicode_READ(kind, data, i);
        uint32_t v = (kind == PyUnicode_4BYTE_KIND && c >= FOLD_LIMIT) ? fold_cp(fold, c) : fold[c];
        if (v <= F_BREAK) {
            if (v == F_DROP) continue;
            pending_boundary = 1;
            if (v == F_BREAK || ++gap > max_gap) state = 0;
            continue;
        }
        gap = 0;
        uint32_t fc = v & F_CP;
        int is_word = (v & F_WORD) != 0;
        uint8_t pre = (uint8_t)(pending_boundary || !prev_word || !is_word);
        pending_boundary = 0;
        prev_word = is_word;
        int32_t t;
        for (;;) {
            if (state == 0) { t = fc < FOLD_LIMIT ? root_next[fc] : child(m, 0, fc); break; }
            const Node *nd = &nodes[state];
            t = find_edge(edges + nd->first, nd->count, fc);
            if (t >= 0) break;
            state = nd->fail;
        }
        if (t < 0) { state = 0; k++; continue; }  /* no match can start or go on here */
        state = t;
        Pos *slot = &ring[k & rmask];
        slot->orig = i;
        slot->pre_boundary = pre;
        int32_t o = nodes[state].outl;
        while (o > 0) {
            int32_t p = out[o];
            Py_ssize_t ks = k - pat_len[p] + 1;
            const Pos *sp = &ring[ks & rmask];
            /* -1 (not known yet) passes here; such a hit starts at or after `safe`
               and is dropped below unless the scan is final. */
            int after = pat_word[p] && sp->pre_boundary ? after_boundary(m, kind, data, i, n) : 1;
            if (!pat_word[p] || (sp->pre_boundary && after != 0)) {
                Hit h = {sp->orig, i + 1, ks, p, (uint8_t)(after < 0)};
                if (hits_push(hits, h) < 0) return -1;
            }
            o = dict_link[o];
        }
        k++;
    }
    Py_ssize_t safe = n;
    if (!final && state != 0) {
        Py_ssize_t ks = k - m->depth[state];
        safe = ring[ks & rmask].orig;
        *k_out = ks;
    } else {
        *k_out = k;
    }
    *safe_out = safe;
    *state_out = state;
    *k_end = k;
    return 0;
}

/* A hit that starts inside the held-back tail is still decided when its word boundary
   is known and no veto pattern that could contain it is in progress. */
static int hit_decided(const Matcher *m, const Hit *h, int32_t state, Py_ssize_t k_end) {
    if (h->open) return 0;
    Py_ssize_t need = k_end - h->k_start;
    for (int32_t u = state; u != 0 && m->depth[u] >= need; u = m->nodes[u].fail)
        if (m->veto_prefix[u]) return 0;
    return 1;
}

static PyObject *Matcher_scan(Matcher *m, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"text", "start", "final", NULL};
    PyObject *text;
    Py_ssize_t start = 0;
    int final = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "U|np", kwlist, &text, &start, &final)) return NULL;
    if (!m->fold) { PyErr_SetString(PyExc_RuntimeError, "Matcher is not initialised"); return NULL; }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (start < 0 || start > n) { PyErr_SetString(PyExc_IndexError, "start out of range"); return NULL; }
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Pos *ring = calloc((size_t)m->ring_mask + 1, sizeof(Pos));
    if (!ring) return PyErr_NoMemory();
    Hits hits = {NULL, 0, 0};
    Py_ssize_t safe = n, safe_k = 0, k_end = 0;
    int32_t state = 0;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    switch (kind) {
    case PyUnicode_1BYTE_KIND:
        rc = scan_kind(m, PyUnicode_1BYTE_KIND, data, n, start, final, ring, &hits, &safe, &safe_k, &state, &k_end);
        break;
    case PyUnicode_2BYTE_KIND:
        rc = scan_kind(m, PyUnicode_2BYTE_KIND, data, n, start, final, ring, &hits, &safe, &safe_k, &state, &k_end);
        break;
    default:
        rc = scan_kind(m, PyUnicode_4BYTE_KIND, data, n, start, final, ring, &hits, &safe, &safe_k, &state, &k_end);
        break;
    }
    Py_END_ALLOW_THREADS
    free(ring);
    if (rc < 0) { free(hits.v); return PyErr_NoMemory(); }
    PyObject *list = PyList_New(0);
    if (!list) { free(hits.v); return NULL; }
    for (Py_ssize_t j = 0; j < hits.n; j++) {
        const Hit *h = &hits.v[j];
        if (!final && h->k_start >= safe_k && !hit_decided(m, h, state, k_end)) continue;
        PyObject *t = Py_BuildValue("(nni)", h->start, h->end, (int)h->pat);
        if (!t || PyList_Append(list, t) < 0) { Py_XDECREF(t); Py_DECREF(list); free(hits.v); return NULL; }
        Py_DECREF(t);
    }
    free(hits.v);
    return Py_BuildValue("(Nn)", list, safe);
}

static PyObject *Matcher_info(Matcher *m, PyObject *Py_UNUSED(ignored)) {
    return Py_BuildValue("{s:i,s:i,s:i,s:i}", "nodes", m->n_nodes, "patterns", m->n_patterns,
                         "max_len", m->max_len, "max_gap", m->max_gap);
}

static PyMethodDef Matcher_methods[] = {
    {"scan", (PyCFunction)(void (*)(void))Matcher_scan, METH_VARARGS | METH_KEYWORDS,
     "scan(text, start=0, final=True) -> (list of (start, end, pattern_id), safe)"},
    {"info", (PyCFunction)Matcher_info, METH_NOARGS, "Sizes of the automaton."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject MatcherType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "hegui.detect._fastscan.Matcher",
    .tp_basicsize = sizeof(Matcher),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Folding Aho-Corasick matcher reporting spans of the original text.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Matcher_init,
    .tp_dealloc = (destructor)Matcher_dealloc,
    .tp_methods = Matcher_methods,
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "_fastscan", "Fused fold and multi-pattern scan.", -1, NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__fastscan(void) {
    if (PyType_Ready(&MatcherType) < 0) return NULL;
    PyObject *mod = PyModule_Create(&moduledef);
    if (!mod) return NULL;
    Py_INCREF(&MatcherType);
    if (PyModule_AddObject(mod, "Matcher", (PyObject *)&MatcherType) < 0) {
        Py_DECREF(&MatcherType);
        Py_DECREF(mod);
        return NULL;
    }
    PyModule_AddIntConstant(mod, "FOLD_LIMIT", FOLD_LIMIT);
    return mod;
}
