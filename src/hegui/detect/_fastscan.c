/*
 * hegui.detect._fastscan: one pass over a Python str that folds every character
 * (width, case, traditional -> simplified, invisible characters, separators) through a
 * table and finds keyword-library terms in the folded stream, reporting matches as
 * spans of the ORIGINAL string.
 *
 * The fold table is built in Python (hegui.detect._normalize) and handed over as a
 * buffer of uint32 values, one per code point below FOLD_LIMIT:
 *   0          the character is invisible and dropped (zero-width, format, ...)
 *   1          a soft separator: skipped inside a match, at most max_gap in a row
 *   2          a hard break: no match spans it
 *   otherwise  bits 0..20 hold the folded code point, bit 31 says "word character"
 *              (a letter or digit of a space-delimited script, for word boundaries).
 *
 * Matching: one tight loop reads the text and folds each character through the table,
 * storing nothing; separators, breaks and invisible characters are skipped, the others
 * "kept". For the position p two kept characters back it tests one word of a bitset,
 * the start set: the word is picked by a hash of p's first two kept characters, and a
 * bit in it says "a term of two is these two" or "a longer term goes on with this third
 * character". Every term of two or more characters has its bit, and one-character terms
 * are flagged in the table, so where neither holds no match can begin at p. In the
 * bench text (zh and en) about 1 position in 40 passes, most of them the real first
 * three letters of some term; the loop costs about 20 instructions a kept character.
 * A position that passes is looked at as every position used to be: the text from p is
 * folded again into a short window (breaks, separator gaps, word flags), and Bloom
 * filters of the first two or four characters of substring terms and of the leading
 * grams of whole-word terms decide whether to walk the trie or compare candidates.
 * Every occurrence of every term is still found, overlapping ones too, in order of
 * position.
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
#define F_WORD_GIVEN 0x80000000u /* "word character" in the table handed over */
#define F_CP 0x1FFFFFu
/* The matcher's own copy of the table moves the word flag to bit 30 and marks that the
   folded character begins a substring term, begins a whole-word term, or is a
   one-character term. The last is bit 31, so the scan's loop tells the characters it
   skips (values 0 to 2) and the rare one-character terms from all others with one
   signed comparison. */
#define F_WORD 0x40000000u
#define F_START_SUB 0x10000000u  /* >> 26 gives FL_SUB */
#define F_START_WORD 0x20000000u /* >> 26 gives FL_WSTART */
#define F_SINGLE 0x80000000u     /* >> 26 gives FL_SINGLE */

#define BIGRAM_BITS 20 /* the largest filter; a small lexicon gets smaller ones */
#define BLOOM_MIN_BITS 12
#define SHORT_BITS 15
/* The start set has 2^START_BITS words (64 KB). A fixed size, so the scan's loop shifts
   by a constant and keeps its state in registers; a lexicon of about 2000 terms or
   fewer gets four words a term or more, and in text unlike the terms under 1 position
   in 100 passes by chance (1 in 25 with 20000 terms: slower, never wrong). */
#define START_BITS 13
#define START_SHIFT (32 - START_BITS)
#define BLOCK 8192 /* terms must be shorter than BLOCK / 2 characters */
#define RELEASE_GIL_CHARS 16384

#define FL_PRE 1u    /* a word may start here (word-boundary terms may begin) */
#define FL_BREAK 2u  /* a hard break or a long run of separators lies just before */
#define FL_SUB 4u    /* the character begins a substring term */
#define FL_WSTART 8u /* the character begins a whole-word term */
#define FL_SINGLE 32u /* the character is a one-character term */
#define FL_ANY (FL_SUB | FL_WSTART | FL_SINGLE)

typedef struct { uint32_t c; int32_t t; } Edge;
/* A node with one child keeps it inline (c1, first = the child) so walks down the
   long single-child chains of a sparse trie touch one record per character. */
typedef struct { int32_t first; int32_t count; int32_t out; uint32_t c1; } Node;

typedef struct { uint32_t key; int32_t first; int32_t count; } CandSlot;
typedef struct { int32_t pat; int32_t len; Py_ssize_t off; } Cand;

typedef struct {
    PyObject_HEAD
    uint32_t *fold;        /* FOLD_LIMIT entries */
    int32_t *root_next;    /* FOLD_LIMIT entries: child of the root per code point, -1 none */
    int32_t n_nodes;
    Node *nodes;           /* children of each node: edges[first .. first + count) */
    Edge *edges;           /* sorted by character within a node */
    int32_t *out_head;     /* first pattern ending at the node, -1 none */
    uint8_t *veto_prefix;  /* node lies on the path of a veto (allowlist) pattern */
    int32_t n_patterns;
    int32_t *pat_len;
    int32_t *pat_next;     /* next pattern ending at the same node, -1 none */
    uint8_t *pat_word;
    uint64_t *bits_sub;    /* bigrams that start a substring term of 2 or 3 characters */
    uint64_t *bits_sub4;   /* first four characters of longer substring terms */
    uint64_t *bits_word;   /* leading grams of whole-word terms */
    uint64_t *short_word;  /* first two characters of whole-word terms shorter than WORD_GRAM */
    /* Whole-word terms of two or more characters are verified by comparing characters
       with the candidates that share their leading gram, not by walking the trie, whose
       nodes lie far apart in memory: */
    uint32_t *pat_chars;   /* every term's folded characters, one after another */
    Py_ssize_t *pat_off;
    CandSlot *cand_slots;  /* open-addressing table: gram key -> a slice of `cands` */
    uint32_t cand_mask;
    Cand *cands;           /* candidates grouped by gram key */
    uint64_t *single;      /* code points (< FOLD_LIMIT) that are a one-character term */
    int single_astral;     /* some one-character term lies at or above FOLD_LIMIT */
    int32_t max_len;
    int32_t max_gap;
    int bloom_shift;       /* see bloom_has */
    /* The scan's first test, without false negatives (see scan_kind): the first two
       characters of a term of two or more pick a word of `starts` (the top bits of
       start_pair), and a bit of it says "a term of two" (bit start_pair & 63) or "a
       longer term whose third character is c" (bit c & 63). */
    uint64_t *starts;
    uint64_t *starts_sub;  /* the same for the terms that are not whole-word ones */
} Matcher;

static inline uint32_t fold_cp(const uint32_t *fold, uint32_t c) {
    if (c < FOLD_LIMIT) return fold[c];
    if ((c >= 0xE0000u && c <= 0xE007Fu) || (c >= 0xE0100u && c <= 0xE01EFu)) return F_DROP;
    return c;
}

/* A 32-bit hash of two folded characters. */
static inline uint32_t bigram(uint32_t a, uint32_t b) {
    uint32_t h = a * 0x9E3779B1u ^ (b + 0x7F4A7C15u) * 0x85EBCA77u;
    return h ^ (h >> 15);
}

/* The key of two folded characters in the start set, which the scan rolls along the
   text with two multiplications a character (a * START_K1 is computed a character
   earlier). The top bits, the well mixed ones of a product, pick the set's word. */
#define START_K1 0x9E3779B1u
#define START_K2 0x85EBCA77u
static inline uint32_t start_pair(uint32_t a, uint32_t b) { return (a * START_K1 + b) * START_K2; }

/* A 32-bit hash of four folded characters. */
static inline uint32_t quadgram(uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
    return bigram(bigram(a, b), bigram(c, d));
}

/* Filters are blocked Bloom filters of 2^b bits, b at most BIGRAM_BITS: a key sets two
   bits of one 64-bit word, so a test costs one memory access and false positives, which
   each cost a trie walk or a candidate check, are rare. `shift` (32 - b + 6) picks the
   word: the filters are sized to the lexicon (64 bits a pattern), so a small one stays
   in the L1 or L2 cache instead of missing it on nearly every test. */
static inline int bloom_has(const uint64_t *set, uint32_t h, int shift) {
    uint64_t mask = ((uint64_t)1 << (h & 63)) | ((uint64_t)1 << ((h >> 6) & 63));
    return (set[h >> shift] & mask) == mask;
}
static inline void bloom_add(uint64_t *set, uint32_t h, int shift) {
    set[h >> shift] |= ((uint64_t)1 << (h & 63)) | ((uint64_t)1 << ((h >> 6) & 63));
}

/* Whole-word terms are filtered on up to WORD_GRAM leading characters: a term of length
   L < WORD_GRAM on all L of them, longer ones on the first WORD_GRAM. Letters are few,
   so a bigram would let nearly every word through to a trie walk. */
#define WORD_GRAM 6

static inline uint32_t gram_step(uint32_t h, uint32_t c) { return (h ^ c) * 0x01000193u + (h >> 15); }
#define GRAM_SEED 0x811C9DC5u
static inline uint32_t gram_key(uint32_t h, int len) {
    h = (h ^ (uint32_t)len * 0x85EBCA77u) * 0x9E3779B1u;
    return h ^ (h >> 16);
}

static inline int bit(const uint64_t *set, uint32_t i) { return (int)((set[i >> 6] >> (i & 63)) & 1u); }
static inline void set_bit(uint64_t *set, uint32_t i) { set[i >> 6] |= (uint64_t)1 << (i & 63); }

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

static inline int32_t node_child(const Matcher *m, const Node *nd, uint32_t c) {
    if (nd->count == 1) return nd->c1 == c ? nd->first : -1;
    return find_edge(m->edges + nd->first, nd->count, c);
}

static inline int32_t child(const Matcher *m, int32_t node, uint32_t c) {
    if (node == 0 && c < FOLD_LIMIT) return m->root_next[c];
    return node_child(m, &m->nodes[node], c);
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

/* Insert every pattern into a trie held in a hash table of (node, char) -> child. */
static int32_t build_trie(Matcher *m, PyObject *patterns, int32_t *parent, uint32_t *pchar, size_t cap) {
    Slot *tab = malloc(cap * sizeof(Slot));
    if (!tab) { PyErr_NoMemory(); return -1; }
    for (size_t i = 0; i < cap; i++) tab[i].key = UINT64_MAX;
    int32_t n = 1;
    m->out_head[0] = -1; parent[0] = -1; pchar[0] = 0;
    m->max_len = 1;
    for (Py_ssize_t p = 0; p < PyList_GET_SIZE(patterns); p++) {
        PyObject *s = PyList_GET_ITEM(patterns, p);
        Py_ssize_t len = PyUnicode_GET_LENGTH(s);
        if (len == 0) {
            PyErr_Format(PyExc_ValueError, "pattern %zd is empty after folding", p);
            free(tab);
            return -1;
        }
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
            parent[n] = node; pchar[n] = c; m->out_head[n] = -1;
            node = n++;
        }
        m->pat_next[p] = m->out_head[node];
        m->out_head[node] = (int32_t)p;
        m->pat_len[p] = (int32_t)len;
        if (len > m->max_len) m->max_len = (int32_t)len;
    }
    free(tab);
    return n;
}

/* Number nodes breadth first, so the shallow nodes that most walks touch share a few
   cache lines instead of being scattered in the order terms were added. */
static int renumber_bfs(Matcher *m, int32_t n) {
    int32_t *order = malloc((size_t)n * sizeof(int32_t));
    int32_t *new_id = malloc((size_t)n * sizeof(int32_t));
    Node *nodes = calloc((size_t)n, sizeof(Node));
    Edge *edges = malloc((size_t)n * sizeof(Edge));
    int32_t *out = malloc((size_t)n * sizeof(int32_t));
    if (!order || !new_id || !nodes || !edges || !out) {
        free(order); free(new_id); free(nodes); free(edges); free(out);
        PyErr_NoMemory();
        return -1;
    }
    /* depth-first preorder: a chain of single-child nodes, which long terms are made
       of, lies in consecutive records */
    int32_t *stack = new_id;  /* reused as the stack before it holds the numbering */
    int32_t top = 0, done = 0;
    stack[top++] = 0;
    while (top > 0) {
        int32_t u = stack[--top];
        order[done++] = u;
        const Node *nd = &m->nodes[u];
        for (int32_t e = nd->first + nd->count - 1; e >= nd->first; e--) stack[top++] = m->edges[e].t;
    }
    for (int32_t i = 0; i < n; i++) new_id[order[i]] = i;
    int32_t pos = 0;
    for (int32_t i = 0; i < n; i++) {
        const Node *old = &m->nodes[order[i]];
        nodes[i].first = pos;
        nodes[i].count = old->count;
        out[i] = m->out_head[order[i]];
        for (int32_t e = old->first; e < old->first + old->count; e++) {
            edges[pos].c = m->edges[e].c;
            edges[pos++].t = new_id[m->edges[e].t];
        }
    }
    free(m->nodes); free(m->edges); free(m->out_head); free(order); free(new_id);
    m->nodes = nodes; m->edges = edges; m->out_head = out;
    return 0;
}

/* Lay the trie out as sorted edge lists, plus a direct table for the root. */
static int layout(Matcher *m, int32_t n, const int32_t *parent, const uint32_t *pchar) {
    m->nodes = calloc((size_t)n, sizeof(Node));
    m->edges = malloc((size_t)n * sizeof(Edge));
    m->root_next = malloc(FOLD_LIMIT * sizeof(int32_t));
    int32_t *fill = malloc((size_t)n * sizeof(int32_t));
    if (!m->nodes || !m->edges || !m->root_next || !fill) { free(fill); PyErr_NoMemory(); return -1; }
    for (int32_t v = 1; v < n; v++) m->nodes[parent[v]].count++;
    int32_t acc = 0;
    for (int32_t u = 0; u < n; u++) { m->nodes[u].first = acc; fill[u] = acc; acc += m->nodes[u].count; }
    for (int32_t v = 1; v < n; v++) {
        int32_t at = fill[parent[v]]++;
        m->edges[at].c = pchar[v];
        m->edges[at].t = v;
    }
    free(fill);
    for (int32_t u = 0; u < n; u++)
        if (m->nodes[u].count > 1)
            qsort(m->edges + m->nodes[u].first, (size_t)m->nodes[u].count, sizeof(Edge), edge_cmp);
    if (renumber_bfs(m, n) < 0) return -1;
    for (uint32_t c = 0; c < FOLD_LIMIT; c++) m->root_next[c] = -1;
    for (int32_t i = 0; i < m->nodes[0].count; i++)
        if (m->edges[i].c < FOLD_LIMIT) m->root_next[m->edges[i].c] = m->edges[i].t;
    for (int32_t u = 0; u < n; u++) {
        Node *nd = &m->nodes[u];
        nd->out = m->out_head[u];
        if (nd->count == 1) { nd->c1 = m->edges[nd->first].c; nd->first = m->edges[nd->first].t; }
    }
    m->n_nodes = n;
    return 0;
}

typedef struct { uint32_t key; int32_t pat; } KeyPat;

static int keypat_cmp(const void *a, const void *b) {
    uint32_t x = ((const KeyPat *)a)->key, y = ((const KeyPat *)b)->key;
    return (x > y) - (x < y);
}

/* Candidates for whole-word terms: gram key -> the terms that start with that gram. */
static int candidates(Matcher *m, PyObject *patterns) {
    Py_ssize_t np = PyList_GET_SIZE(patterns), total = 0, nk = 0;
    for (Py_ssize_t p = 0; p < np; p++) total += PyUnicode_GET_LENGTH(PyList_GET_ITEM(patterns, p));
    m->pat_chars = malloc((size_t)(total ? total : 1) * sizeof(uint32_t));
    m->pat_off = malloc((size_t)(np ? np : 1) * sizeof(Py_ssize_t));
    KeyPat *kp = malloc((size_t)(np ? np : 1) * sizeof(KeyPat));
    if (!m->pat_chars || !m->pat_off || !kp) { free(kp); PyErr_NoMemory(); return -1; }
    Py_ssize_t at = 0;
    for (Py_ssize_t p = 0; p < np; p++) {
        PyObject *str = PyList_GET_ITEM(patterns, p);
        int kind = PyUnicode_KIND(str);
        const void *data = PyUnicode_DATA(str);
        Py_ssize_t len = PyUnicode_GET_LENGTH(str);
        m->pat_off[p] = at;
        for (Py_ssize_t i = 0; i < len; i++) m->pat_chars[at++] = PyUnicode_READ(kind, data, i);
        if (!m->pat_word[p] || len < 2) continue;
        int g = len < WORD_GRAM ? (int)len : WORD_GRAM;
        uint32_t h = GRAM_SEED;
        for (int i = 0; i < g; i++) h = gram_step(h, m->pat_chars[m->pat_off[p] + i]);
        kp[nk].key = gram_key(h, g);
        kp[nk++].pat = (int32_t)p;
    }
    qsort(kp, (size_t)nk, sizeof(KeyPat), keypat_cmp);
    uint32_t cap = 16;
    while (cap < (uint32_t)nk * 2 + 2) cap <<= 1;
    m->cand_mask = cap - 1;
    m->cand_slots = calloc(cap, sizeof(CandSlot));
    m->cands = malloc((size_t)(nk ? nk : 1) * sizeof(Cand));
    if (!m->cand_slots || !m->cands) { free(kp); PyErr_NoMemory(); return -1; }
    for (Py_ssize_t i = 0; i < nk; i++) {
        int32_t p = kp[i].pat;
        m->cands[i].pat = p;
        m->cands[i].len = m->pat_len[p];
        m->cands[i].off = m->pat_off[p];
        if (i > 0 && kp[i].key == kp[i - 1].key) continue;
        uint32_t slot = (kp[i].key * 0x2545F491u) & m->cand_mask;
        while (m->cand_slots[slot].count) slot = (slot + 1) & m->cand_mask;
        Py_ssize_t k = i;
        while (k < nk && kp[k].key == kp[i].key) k++;
        m->cand_slots[slot] = (CandSlot){kp[i].key, (int32_t)i, (int32_t)(k - i)};
    }
    free(kp);
    return 0;
}

/* Bigram filters, the one-character set and the veto paths. */
static int filters(Matcher *m, PyObject *patterns, const uint8_t *veto) {
    int bloom_bits = BLOOM_MIN_BITS;
    while (bloom_bits < BIGRAM_BITS && ((size_t)1 << bloom_bits) < (size_t)PyList_GET_SIZE(patterns) * 64)
        bloom_bits++;
    m->bloom_shift = 32 - bloom_bits + 6;
    size_t words = ((size_t)1 << bloom_bits) / 64;
    m->bits_sub = calloc(words, sizeof(uint64_t));
    m->bits_sub4 = calloc(words, sizeof(uint64_t));
    m->bits_word = calloc(words, sizeof(uint64_t));
    m->single = calloc(FOLD_LIMIT / 64, sizeof(uint64_t));
    m->short_word = calloc(((size_t)1 << SHORT_BITS) / 64, sizeof(uint64_t));
    m->veto_prefix = calloc((size_t)m->n_nodes, 1);
    m->starts = calloc((size_t)1 << START_BITS, sizeof(uint64_t));
    m->starts_sub = calloc((size_t)1 << START_BITS, sizeof(uint64_t));
    uint8_t *firsts = calloc(0x110000, 1);  /* folded first characters: 1 single, 2 word, 4 sub */
    if (!m->bits_sub || !m->bits_sub4 || !m->bits_word || !m->single || !m->veto_prefix || !firsts ||
        !m->short_word || !m->starts || !m->starts_sub) {
        free(firsts);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t p = 0; p < PyList_GET_SIZE(patterns); p++) {
        PyObject *s = PyList_GET_ITEM(patterns, p);
        int kind = PyUnicode_KIND(s);
        const void *data = PyUnicode_DATA(s);
        uint32_t c0 = PyUnicode_READ(kind, data, 0);
        if (PyUnicode_GET_LENGTH(s) == 1) {
            if (c0 < FOLD_LIMIT) set_bit(m->single, c0); else m->single_astral = 1;
        } else if (m->pat_word[p]) {
            int len = PyUnicode_GET_LENGTH(s) < WORD_GRAM ? (int)PyUnicode_GET_LENGTH(s) : WORD_GRAM;
            uint32_t h = GRAM_SEED;
            for (int i = 0; i < len; i++) h = gram_step(h, PyUnicode_READ(kind, data, i));
            bloom_add(m->bits_word, gram_key(h, len), m->bloom_shift);
            if (len < WORD_GRAM)
                set_bit(m->short_word, bigram(c0, PyUnicode_READ(kind, data, 1)) >> (32 - SHORT_BITS));
        } else if (PyUnicode_GET_LENGTH(s) < 4) {
            bloom_add(m->bits_sub, bigram(c0, PyUnicode_READ(kind, data, 1)), m->bloom_shift);
        } else {
            bloom_add(m->bits_sub4, quadgram(c0, PyUnicode_READ(kind, data, 1), PyUnicode_READ(kind, data, 2),
                                             PyUnicode_READ(kind, data, 3)),
                      m->bloom_shift);
        }
        if (PyUnicode_GET_LENGTH(s) >= 2) {
            uint32_t key = start_pair(c0, PyUnicode_READ(kind, data, 1));
            uint32_t b = PyUnicode_GET_LENGTH(s) == 2 ? key : PyUnicode_READ(kind, data, 2);
            m->starts[key >> START_SHIFT] |= (uint64_t)1 << (b & 63);
            if (!m->pat_word[p]) m->starts_sub[key >> START_SHIFT] |= (uint64_t)1 << (b & 63);
        }
        if (c0 < 0x110000)
            firsts[c0] |= PyUnicode_GET_LENGTH(s) == 1 ? 1 : m->pat_word[p] ? 2 : 4;
        if (veto && veto[p]) {
            int32_t node = 0;
            for (Py_ssize_t i = 0; i < PyUnicode_GET_LENGTH(s) && node >= 0; i++) {
                node = child(m, node, PyUnicode_READ(kind, data, i));
                if (node > 0) m->veto_prefix[node] = 1;
            }
        }
    }
    /* Carry the marks onto every code point that folds to a first character, so the
       scan tells from one table lookup whether a position can start a term at all. */
    for (uint32_t c = 0; c < FOLD_LIMIT; c++) {
        uint32_t v = m->fold[c];
        if (v <= F_BREAK) continue;
        uint8_t k = firsts[v & F_CP];
        if (v & F_WORD_GIVEN) v = (v & ~F_WORD_GIVEN) | F_WORD;
        if (k & 1) v |= F_SINGLE;
        if (k & 2) v |= F_START_WORD;
        if (k & 4) v |= F_START_SUB;
        m->fold[c] = v;
    }
    free(firsts);
    return 0;
}

static int build(Matcher *m, PyObject *patterns, const uint8_t *veto) {
    Py_ssize_t np = PyList_GET_SIZE(patterns);
    Py_ssize_t total = 1;
    for (Py_ssize_t i = 0; i < np; i++) total += PyUnicode_GET_LENGTH(PyList_GET_ITEM(patterns, i));
    if (total > INT32_MAX / 4) { PyErr_SetString(PyExc_ValueError, "lexicon too large"); return -1; }
    size_t cap = 16;
    while (cap < (size_t)total * 2) cap <<= 1;
    int32_t *parent = malloc((size_t)total * sizeof(int32_t));
    uint32_t *pchar = malloc((size_t)total * sizeof(uint32_t));
    m->out_head = malloc((size_t)total * sizeof(int32_t));
    m->pat_len = malloc((size_t)(np ? np : 1) * sizeof(int32_t));
    m->pat_next = malloc((size_t)(np ? np : 1) * sizeof(int32_t));
    int rc = -1;
    if (!parent || !pchar || !m->out_head || !m->pat_len || !m->pat_next) { PyErr_NoMemory(); goto done; }
    int32_t n = build_trie(m, patterns, parent, pchar, cap);
    if (n < 0 || layout(m, n, parent, pchar) < 0) goto done;
    rc = filters(m, patterns, veto);
    if (rc == 0) rc = candidates(m, patterns);
done:
    free(parent);
    free(pchar);
    return rc;
}

static void Matcher_dealloc(Matcher *m) {
    free(m->fold); free(m->root_next); free(m->nodes); free(m->edges); free(m->out_head);
    free(m->veto_prefix); free(m->pat_len); free(m->pat_next); free(m->pat_word);
    free(m->bits_sub); free(m->bits_sub4); free(m->bits_word); free(m->single); free(m->short_word);
    free(m->starts); free(m->starts_sub);
    free(m->pat_chars); free(m->pat_off); free(m->cand_slots); free(m->cands);
    Py_TYPE(m)->tp_free((PyObject *)m);
}

static int Matcher_init(Matcher *m, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"fold", "patterns", "word", "max_gap", "veto", NULL};
    Py_buffer fold, word, veto = {0};
    PyObject *patterns;
    int max_gap = 3;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*O!y*|iy*", kwlist, &fold, &PyList_Type, &patterns,
                                     &word, &max_gap, &veto))
        return -1;
    int rc = -1;
    Py_ssize_t np = PyList_GET_SIZE(patterns);
    if (m->fold) { PyErr_SetString(PyExc_RuntimeError, "Matcher is already initialised"); goto done; }
    if ((size_t)fold.len != FOLD_LIMIT * sizeof(uint32_t)) {
        PyErr_Format(PyExc_ValueError, "fold table must hold %u uint32 values", FOLD_LIMIT);
        goto done;
    }
    if (word.len != np || (veto.buf && veto.len != np)) {
        PyErr_SetString(PyExc_ValueError, "word or veto flags and patterns differ in length");
        goto done;
    }
    for (Py_ssize_t i = 0; i < np; i++) {
        if (!PyUnicode_Check(PyList_GET_ITEM(patterns, i))) {
            PyErr_Format(PyExc_TypeError, "pattern %zd is not a str", i);
            goto done;
        }
    }
    if (max_gap < 0) { PyErr_SetString(PyExc_ValueError, "max_gap must be >= 0"); goto done; }
    m->max_gap = max_gap;
    m->n_patterns = (int32_t)np;
    m->fold = malloc(FOLD_LIMIT * sizeof(uint32_t));
    m->pat_word = malloc((size_t)(np ? np : 1));
    if (!m->fold || !m->pat_word) { PyErr_NoMemory(); goto done; }
    memcpy(m->fold, fold.buf, FOLD_LIMIT * sizeof(uint32_t));
    memcpy(m->pat_word, word.buf, (size_t)np);
    rc = build(m, patterns, veto.buf);
done:
    PyBuffer_Release(&fold);
    PyBuffer_Release(&word);
    if (veto.buf) PyBuffer_Release(&veto);
    return rc;
}

/* ---- scanning ------------------------------------------------------------------ */

typedef struct { Py_ssize_t start, end; int32_t pat; } Hit;

typedef struct {
    const Matcher *m;
    int kind;
    const void *data;
    Py_ssize_t n;
    int final;
    /* The window: the folded characters from one start position on (a position the
       scan's first test let through), as the whole folded text would hold them. */
    uint32_t *fc;          /* `cap` entries each */
    Py_ssize_t *orig;      /* original index of each folded character */
    uint8_t *fl;
    Py_ssize_t cap;        /* longest term + 1: no walk or comparison reaches past it */
    Py_ssize_t len;        /* characters in the window */
    int break_at_end;      /* the text ends with a break after the last character */
    /* folding state at the window's end, to extend it */
    Py_ssize_t next;       /* original index of the next character to fold */
    Py_ssize_t looked;     /* original index of the last position looked at */
    int gap, pending_break, pending_boundary, prev_word;
    /* results */
    Hit *hits;
    Py_ssize_t n_hits, cap_hits;
    /* (original indices of kept characters are ordered as their folded indices) */
    Py_ssize_t open_orig;  /* earliest index a match may still start at */
    Py_ssize_t veto_at;    /* earliest start of a veto term still in progress */
} Scan;

static int push_hit(Scan *s, Hit h) {
    if (s->n_hits == s->cap_hits) {
        Py_ssize_t nc = s->cap_hits ? s->cap_hits * 2 : 16;
        Hit *nv = realloc(s->hits, (size_t)nc * sizeof(Hit));
        if (!nv) return -1;
        s->hits = nv; s->cap_hits = nc;
    }
    s->hits[s->n_hits++] = h;
    return 0;
}

static inline void mark_open(Scan *s, Py_ssize_t j) {
    if (s->orig[j] < s->open_orig) s->open_orig = s->orig[j];
}

/* Word boundary after original index i: 1 yes, 0 no, -1 not known yet (end of text). */
static int after_boundary(const Matcher *m, int kind, const void *data, Py_ssize_t i, Py_ssize_t n) {
    for (Py_ssize_t j = i + 1; j < n; j++) {
        uint32_t v = fold_cp(m->fold, PyUnicode_READ(kind, data, j));
        if (v == F_DROP) continue;
        if (v == F_SEP || v == F_BREAK) return 1;
        return (v & F_WORD) ? 0 : 1;
    }
    return -1;
}

static int before_boundary(const Matcher *m, int kind, const void *data, Py_ssize_t start) {
    for (Py_ssize_t j = start - 1; j >= 0; j--) {
        uint32_t v = fold_cp(m->fold, PyUnicode_READ(kind, data, j));
        if (v == F_DROP) continue;
        if (v == F_SEP || v == F_BREAK) return 1;
        return (v & F_WORD) ? 0 : 1;
    }
    return 1;
}

/* ---- the window -------------------------------------------------------------- */

/* The flags of a kept character at original index i (c read there, v its table value)
   as the start of a match. A word starts here if this is no word character, or if a
   separator, a break, a character that is none or the text's start lies just before:
   before_boundary looks back for the last three. FL_BREAK stays clear: what lies before
   a start never matters to its matches. */
static uint8_t start_flags(const Scan *s, Py_ssize_t i, uint32_t c, uint32_t v) {
    uint32_t starts = c < FOLD_LIMIT ? (v >> 26) & FL_ANY : FL_ANY;
    int pre = !(v & F_WORD) || before_boundary(s->m, s->kind, s->data, i);
    return (uint8_t)((pre ? FL_PRE : 0) | starts);
}

/* Start the window at original index i, a kept character (one that folds to a
   character, not to nothing, a separator or a break) with table value v, flags fl. */
static void window_start(Scan *s, Py_ssize_t i, uint32_t v, uint8_t fl) {
    s->fc[0] = v & F_CP;
    s->orig[0] = i;
    s->fl[0] = fl;
    s->len = 1;
    s->next = i + 1;
    s->gap = 0;
    s->pending_break = s->pending_boundary = 0;
    s->prev_word = (v & F_WORD) != 0;
    s->break_at_end = 0;
}

/* Fold characters onto the window until it holds `want` of them or the text ends, as
   the whole folded text would hold them: invisible characters are dropped, separators
   and breaks become flags of the next kept character (a break, or more than max_gap
   separators in a row, splits matches; either ends a word). */
static inline __attribute__((always_inline)) void extend_kind(Scan *s, Py_ssize_t want, const int kind) {
    const uint32_t *fold = s->m->fold;
    const void *data = s->data;
    const int max_gap = s->m->max_gap;
    Py_ssize_t i = s->next, len = s->len;
    int gap = s->gap, pending_break = s->pending_break, pending_boundary = s->pending_boundary;
    int prev_word = s->prev_word;
    for (; len < want && i < s->n; i++) {
        uint32_t c = PyUnicode_READ(kind, data, i);
        uint32_t v = (kind == PyUnicode_4BYTE_KIND && c >= FOLD_LIMIT) ? fold_cp(fold, c) : fold[c];
        if (v <= F_BREAK) {
            if (v == F_DROP) continue;
            pending_boundary = 1;
            if (v == F_BREAK || ++gap > max_gap) pending_break = 1;
            continue;
        }
        gap = 0;
        int is_word = (v & F_WORD) != 0;
        s->fc[len] = v & F_CP;
        s->orig[len] = i;
        uint32_t starts = c < FOLD_LIMIT ? (v >> 26) & FL_ANY : FL_ANY;
        s->fl[len++] = (uint8_t)(((pending_boundary || !prev_word || !is_word) ? FL_PRE : 0) |
                                 (pending_break ? FL_BREAK : 0) | starts);
        pending_boundary = pending_break = 0;
        prev_word = is_word;
    }
    if (i == s->n) s->break_at_end = pending_break; /* the text has ended */
    s->next = i;
    s->len = len;
    s->gap = gap;
    s->pending_break = pending_break;
    s->pending_boundary = pending_boundary;
    s->prev_word = prev_word;
}

static void window_extend(Scan *s, Py_ssize_t want) {
    switch (s->kind) {
    case PyUnicode_1BYTE_KIND: extend_kind(s, want, PyUnicode_1BYTE_KIND); break;
    case PyUnicode_2BYTE_KIND: extend_kind(s, want, PyUnicode_2BYTE_KIND); break;
    default: extend_kind(s, want, PyUnicode_4BYTE_KIND); break;
    }
}

/* Whether window position t exists, folding a few more characters if needed: no if the
   text has ended before it. Walks and comparisons read t <= max_len < cap, so a "no"
   always means the end of the text. Most stop after a few characters: fold no more. */
static inline int have(Scan *s, Py_ssize_t t) {
    if (t < s->len) return 1;
    window_extend(s, t + 8 < s->cap ? t + 8 : s->cap);
    return t < s->len;
}

/* Report term p found from window position j to position t. */
static int report(Scan *s, int32_t p, Py_ssize_t j, Py_ssize_t t) {
    const Matcher *m = s->m;
    if (m->pat_word[p]) {
        if (!(s->fl[j] & FL_PRE)) return 0;
        int after = after_boundary(m, s->kind, s->data, s->orig[t], s->n);
        if (after == 0) return 0;
        if (after < 0 && !s->final) { mark_open(s, j); return 0; }
    }
    Hit h = {s->orig[j], s->orig[t] + 1, p};
    return push_hit(s, h);
}

/* Report the terms on a trie node reached from j to t. Whole-word terms longer than
   one character are left to the candidate check unless `words` is set. */
static int emit(Scan *s, int32_t node, Py_ssize_t j, Py_ssize_t t, int words) {
    const Matcher *m = s->m;
    for (int32_t p = m->out_head[node]; p >= 0; p = m->pat_next[p]) {
        if (m->pat_word[p] && !words && m->pat_len[p] > 1) continue;
        if (report(s, p, j, t) < 0) return -1;
    }
    return 0;
}

/* Compare the candidates sharing gram key `key` with the text at window position j. */
static int check_candidates(Scan *s, Py_ssize_t j, uint32_t key, int g) {
    const Matcher *m = s->m;
    uint32_t slot = (key * 0x2545F491u) & m->cand_mask;
    while (m->cand_slots[slot].count && m->cand_slots[slot].key != key) slot = (slot + 1) & m->cand_mask;
    const CandSlot *cs = &m->cand_slots[slot];
    for (int32_t i = 0; i < cs->count; i++) {
        const Cand *cd = &m->cands[cs->first + i];
        Py_ssize_t len = cd->len;
        if ((g < WORD_GRAM && len != g) || len < g) continue;
        const uint32_t *pc = m->pat_chars + cd->off;
        Py_ssize_t t = 0;
        while (t < len && have(s, j + t) && (t == 0 || !(s->fl[j + t] & FL_BREAK)) &&
               s->fc[j + t] == pc[t])
            t++;
        if (t == len) {
            if (report(s, cd->pat, j, j + len - 1) < 0) return -1;
        } else if (j + t == s->len && !s->final && !s->break_at_end) {
            mark_open(s, j);  /* the text ran out inside this term */
        }
    }
    return 0;
}

/* Follow the trie from window position j as far as the folded text allows. */
static int walk(Scan *s, Py_ssize_t j, int words) {
    const Matcher *m = s->m;
    int32_t node = child(m, 0, s->fc[j]);
    Py_ssize_t t = j;
    while (node >= 0) {
        const Node *nd = &m->nodes[node];
        if (nd->out >= 0 && emit(s, node, j, t, words) < 0) return -1;
        if (have(s, t + 1)) {
            if (s->fl[t + 1] & FL_BREAK) break;
            node = node_child(m, nd, s->fc[++t]);
            continue;
        }
        /* the text ran out while the term could still go on */
        if (!s->final && !s->break_at_end && m->nodes[node].count > 0) {
            mark_open(s, j);
            if (m->veto_prefix[node] && s->orig[j] < s->veto_at) s->veto_at = s->orig[j];
        }
        break;
    }
    return 0;
}

/* Look for terms from the window's start, one of the positions followed by WORD_GRAM - 1
   or more kept characters that the scan's first test let through. The window holds
   WORD_GRAM characters, which the filters read; walks and comparisons extend it. */
static int look_body(Scan *s) {
    const Matcher *m = s->m;
    const uint64_t *bs = m->bits_sub, *bs4 = m->bits_sub4, *bw = m->bits_word, *single = m->single;
    const int shift = m->bloom_shift;
    const Py_ssize_t j = 0;
    const uint8_t f = s->fl[j];
    const uint32_t c = s->fc[j];
    if (!(f & FL_ANY)) return 0; /* no term begins with this character */
    int walked = 0;
    /* a substring term of 2-3 characters begins with a bigram in `bs`, a longer one
       with four characters (no break between them) in `bs4` */
    if ((f & FL_SUB) && !(s->fl[j + 1] & FL_BREAK) &&
        (bloom_has(bs, bigram(c, s->fc[j + 1]), shift) ||
         (!(s->fl[j + 2] & FL_BREAK) && !(s->fl[j + 3] & FL_BREAK) &&
          bloom_has(bs4, quadgram(c, s->fc[j + 1], s->fc[j + 2], s->fc[j + 3]), shift)))) {
        if (walk(s, j, 0) < 0) return -1;
        walked = 1;
    }
    if ((f & FL_WSTART) && (f & FL_PRE) && !(s->fl[j + 1] & FL_BREAK)) {
        /* short terms are few: test their grams only when the first two characters
           begin one; long terms are tested on their first WORD_GRAM characters */
        int shorts = bit(m->short_word, bigram(c, s->fc[j + 1]) >> (32 - SHORT_BITS));
        uint32_t h = gram_step(GRAM_SEED, c);
        for (int g = 2; g <= WORD_GRAM; g++) {
            if (g > 2 && (s->fl[j + g - 1] & FL_BREAK)) break;
            h = gram_step(h, s->fc[j + g - 1]);
            if (g < WORD_GRAM && !shorts) continue;
            uint32_t key = gram_key(h, g);
            if (bloom_has(bw, key, shift) && check_candidates(s, j, key, g) < 0) return -1;
        }
    }
    if (!walked && (f & FL_SINGLE) && (c < FOLD_LIMIT ? bit(single, c) : m->single_astral)) {
        int32_t node = child(m, 0, c);
        if (node >= 0 && emit(s, node, j, j, 0) < 0) return -1;
    }
    return 0;
}

/* The last WORD_GRAM - 1 kept characters of the text, which the filters above cannot
   serve (they read WORD_GRAM characters): walk the trie for every kind of term. */
static int look_tail(Scan *s) {
    const uint8_t f = s->fl[0];
    if (f & (FL_SUB | FL_WSTART)) return walk(s, 0, 1);
    if (f & FL_SINGLE) {
        int32_t node = child(s->m, 0, s->fc[0]);
        if (node >= 0) return emit(s, node, 0, 0, 1);
    }
    return 0;
}

/* Read and fold the character at original index i. */
static inline uint32_t read_fold(const Scan *s, Py_ssize_t i, uint32_t *c) {
    *c = PyUnicode_READ(s->kind, s->data, i);
    return fold_cp(s->m->fold, *c);
}

/* Look for terms from the kept character at original index p (c read there, v its
   table value) unless done already. With third_known, p's next two kept characters are
   `second` and `third` (folded), which the start set let through. */
static int look_from(Scan *s, Py_ssize_t p, uint32_t c, uint32_t v, int third_known, uint32_t second,
                     uint32_t third) {
    const Matcher *m = s->m;
    if (p <= s->looked) return 0; /* a one-character term's neighbours are looked at early */
    s->looked = p;
    uint8_t fl = start_flags(s, p, c, v);
    if (!(fl & FL_ANY)) return 0; /* no term begins with the character */
    /* In Latin text most of those let through begin whole-word terms inside a word, where
       none can match: the start set of the other terms tells. (Were the text to go on,
       look_body's walks could still find that it ran out inside any term, and hold the
       place back: that only happens where the text is not final.) */
    if (third_known && !(fl & (FL_PRE | FL_SINGLE)) && s->final) {
        uint32_t key = start_pair(v & F_CP, second);
        if (!(m->starts_sub[key >> START_SHIFT] & ((uint64_t)1 << (key & 63) | (uint64_t)1 << (third & 63))))
            return 0;
    }
    window_start(s, p, v, fl);
    window_extend(s, WORD_GRAM);
    if (s->len < WORD_GRAM) return 0; /* one of the last few: look_tail's */
    return look_body(s);
}

/* The position `back` kept characters before original index i, a kept character (the
   scan's loop keeps no indices: looking back costs less, as it is rare). */
static __attribute__((noinline)) int look_back(Scan *s, Py_ssize_t i, Py_ssize_t start, int back) {
    uint32_t c, v = read_fold(s, i, &c);
    uint32_t third = v & F_CP, second = third;
    for (int seen = 0; seen < back;) {
        if (--i < start) return 0; /* too few kept characters yet: no position */
        v = read_fold(s, i, &c);
        if (v > F_BREAK && ++seen == 1) second = v & F_CP;
    }
    return look_from(s, i, c, v, back == 2, second, third);
}

/* The scan. The loop keeps no array: per character it reads, folds through the table,
   and tests the position p two kept characters back, whose next two are now known. A
   match from p of a term of two or more characters needs the term's first two (a term
   of two) or three (a longer one) kept characters to be those from p, separators and
   breaks aside, and the start set holds those of every term; a match of a
   one-character term needs the F_SINGLE flag. Where neither holds, neither a trie walk
   nor a candidate comparison nor the end of the text could find or hold anything from
   p (all that this test turns away, look_body's own filters would too), so the loop
   goes on; otherwise look_back finds p again and look_from looks there. In text that
   matches nothing the branch is seldom taken. */
static inline __attribute__((always_inline)) int scan_kind(Scan *s, int kind, Py_ssize_t start) {
    const Matcher *m = s->m;
    const uint32_t *fold = m->fold;
    const void *data = s->data;
    const Py_ssize_t n = s->n;
    const uint64_t *starts = m->starts;
    uint32_t q1 = 0;         /* the last folded character * START_K1 */
    uint64_t word = 0;       /* the start set's word of the last two characters */
    uint64_t pair_bit = 0;   /* the bit there that says "a term of two" */
    for (Py_ssize_t i = start; i < n; i++) {
        uint32_t c = PyUnicode_READ(kind, data, i);
        uint32_t v;
        if (kind == PyUnicode_4BYTE_KIND && c >= FOLD_LIMIT) {
            /* outside the table nothing is known of what the character begins
               (look_body treats it as beginning every kind): always look there */
            v = fold_cp(fold, c);
            if (v != F_DROP) v |= F_SINGLE;
        } else {
            v = fold[c];
        }
        uint32_t cp = v & F_CP;
        if ((int32_t)v > (int32_t)F_BREAK) {
            if (__builtin_expect((word & (pair_bit | (uint64_t)1 << (cp & 63))) != 0, 0) &&
                look_back(s, i, start, 2) < 0)
                return -1;
        } else if (v > F_BREAK) {
            /* a one-character term, or outside the table: the position is looked at now,
               and so, to keep the order, are the two before it */
            if (look_back(s, i, start, 2) < 0 || look_back(s, i, start, 1) < 0 || look_back(s, i, start, 0) < 0)
                return -1;
        } else {
            continue; /* dropped, a separator or a break: not kept */
        }
        uint32_t key = (q1 + cp) * START_K2; /* start_pair(last, cp) */
        word = starts[key >> START_SHIFT];
        pair_bit = (uint64_t)1 << (key & 63);
        q1 = cp * START_K1;
    }
    /* the last WORD_GRAM - 1 kept characters (after `start`), found looking back */
    Py_ssize_t last[WORD_GRAM - 1];
    int t = 0;
    for (Py_ssize_t i = n - 1; i >= start && t < WORD_GRAM - 1; i--)
        if (fold_cp(fold, PyUnicode_READ(kind, data, i)) > F_BREAK) last[t++] = i;
    for (int u = t - 1; u >= 0; u--) {
        uint32_t c, v = read_fold(s, last[u], &c);
        window_start(s, last[u], v, start_flags(s, last[u], c, v));
        if (look_tail(s) < 0) return -1;
    }
    return 0;
}

/* One copy of the loop per string kind, each a function of its own: inlined into the
   caller, which has much else live, the loop's pointers and shift spilled to the stack. */
static __attribute__((noinline)) int scan_ucs1(Scan *s, Py_ssize_t start) {
    return scan_kind(s, PyUnicode_1BYTE_KIND, start);
}
static __attribute__((noinline)) int scan_ucs2(Scan *s, Py_ssize_t start) {
    return scan_kind(s, PyUnicode_2BYTE_KIND, start);
}
static __attribute__((noinline)) int scan_ucs4(Scan *s, Py_ssize_t start) {
    return scan_kind(s, PyUnicode_4BYTE_KIND, start);
}

/* Windows up to this long live on the stack (the longest term is usually short). */
#define WINDOW_STACK 64

static PyObject *Matcher_scan(Matcher *m, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"text", "start", "final", NULL};
    PyObject *text;
    Py_ssize_t start = 0;
    int final = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "U|np", kwlist, &text, &start, &final)) return NULL;
    if (!m->fold) { PyErr_SetString(PyExc_RuntimeError, "Matcher is not initialised"); return NULL; }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (start < 0 || start > n) { PyErr_SetString(PyExc_IndexError, "start out of range"); return NULL; }
    if (m->max_len >= BLOCK / 2) { PyErr_SetString(PyExc_ValueError, "a term is too long"); return NULL; }
    Scan s = {0};
    uint32_t fc_stack[WINDOW_STACK];
    Py_ssize_t orig_stack[WINDOW_STACK];
    uint8_t fl_stack[WINDOW_STACK];
    /* a walk or comparison from the window's start reads at most max_len characters;
       one more tells "the text ran out here" from "the window ends here" */
    s.cap = (m->max_len > WORD_GRAM ? m->max_len : WORD_GRAM) + 1;
    if (s.cap <= WINDOW_STACK) {
        s.fc = fc_stack; s.orig = orig_stack; s.fl = fl_stack;
    } else {
        s.fc = malloc((size_t)s.cap * sizeof(uint32_t));
        s.orig = malloc((size_t)s.cap * sizeof(Py_ssize_t));
        s.fl = malloc((size_t)s.cap);
        if (!s.fc || !s.orig || !s.fl) {
            free(s.fc); free(s.orig); free(s.fl);
            return PyErr_NoMemory();
        }
    }
    s.m = m; s.kind = PyUnicode_KIND(text); s.data = PyUnicode_DATA(text); s.n = n;
    s.final = final;
    s.open_orig = n; s.veto_at = PY_SSIZE_T_MAX; s.looked = -1;
    int rc;
    /* Handing the GIL over and back costs about as much as scanning a short text (a
       stream's tail, most corpus documents), so only long ones let other threads run. */
    PyThreadState *released = n - start >= RELEASE_GIL_CHARS ? PyEval_SaveThread() : NULL;
    switch (s.kind) {
    case PyUnicode_1BYTE_KIND: rc = scan_ucs1(&s, start); break;
    case PyUnicode_2BYTE_KIND: rc = scan_ucs2(&s, start); break;
    default: rc = scan_ucs4(&s, start); break;
    }
    if (released) PyEval_RestoreThread(released);
    if (s.fc != fc_stack) { free(s.fc); free(s.orig); free(s.fl); }
    PyObject *list = rc < 0 ? PyErr_NoMemory() : PyList_New(0);
    for (Py_ssize_t j = 0; list && j < s.n_hits; j++) {
        const Hit *h = &s.hits[j];
        /* a veto term still in progress may yet contain this hit */
        if (!final && h->start >= s.veto_at) continue;
        PyObject *t = Py_BuildValue("(nni)", h->start, h->end, (int)h->pat);
        if (!t || PyList_Append(list, t) < 0) { Py_XDECREF(t); Py_CLEAR(list); }
        else Py_DECREF(t);
    }
    Py_ssize_t safe = final ? n : s.open_orig;
    free(s.hits);
    return list ? Py_BuildValue("(Nn)", list, safe) : NULL;
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
    .tp_doc = "Folding multi-pattern matcher reporting spans of the original text.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Matcher_init,
    .tp_dealloc = (destructor)Matcher_dealloc,
    .tp_methods = Matcher_methods,
};

/* ------------------------------------------------------------------ text primitives */

/* first_of(text, chars, start=0) -> index of the first character of `text` at or after
   `start` that is one of the ASCII `chars`, or -1. A prefilter: detectors whose every
   match needs one of a few ASCII characters skip texts that hold none of them. Most
   texts hold none, so blocks of SPAN characters are first tested, without branches
   (the compiler vectorises it), for a character in the range [lo, hi] of the set. */
#define SPAN 64
#define FIRST_OF(T)                                                                  \
    static Py_ssize_t first_of_##T(const T *d, Py_ssize_t start, Py_ssize_t n,      \
                                   const uint64_t *set, uint32_t lo, uint32_t width) { \
        Py_ssize_t i = start;                                                        \
        for (; i + SPAN <= n; i += SPAN) {                                           \
            int near = 0;                                                            \
            for (int k = 0; k < SPAN; k++) near |= (uint32_t)d[i + k] - lo <= width; \
            if (!near) continue;                                                     \
            for (int k = 0; k < SPAN; k++) {                                         \
                uint32_t c = d[i + k];                                               \
                if (c < 128 && ((set[c >> 6] >> (c & 63)) & 1u)) return i + k;      \
            }                                                                        \
        }                                                                            \
        for (; i < n; i++) {                                                         \
            uint32_t c = d[i];                                                       \
            if (c < 128 && ((set[c >> 6] >> (c & 63)) & 1u)) return i;              \
        }                                                                            \
        return -1;                                                                   \
    }
FIRST_OF(Py_UCS1)
FIRST_OF(Py_UCS2)
FIRST_OF(Py_UCS4)
#undef FIRST_OF

static PyObject *first_of(PyObject *Py_UNUSED(mod), PyObject *args) {
    PyObject *text, *chars;
    Py_ssize_t start = 0;
    if (!PyArg_ParseTuple(args, "UU|n", &text, &chars, &start)) return NULL;
    uint64_t set[2] = {0, 0};
    uint32_t lo = 128, hi = 0;
    Py_ssize_t nc = PyUnicode_GET_LENGTH(chars);
    int ckind = PyUnicode_KIND(chars);
    const void *cdata = PyUnicode_DATA(chars);
    for (Py_ssize_t i = 0; i < nc; i++) {
        Py_UCS4 c = PyUnicode_READ(ckind, cdata, i);
        if (c >= 128) { PyErr_SetString(PyExc_ValueError, "chars must be ASCII"); return NULL; }
        set[c >> 6] |= (uint64_t)1 << (c & 63);
        if (c < lo) lo = c;
        if (c > hi) hi = c;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (start < 0) start = 0;
    if (nc == 0 || start >= n) return PyLong_FromSsize_t(-1);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t found;
    switch (PyUnicode_KIND(text)) {
    case PyUnicode_1BYTE_KIND: found = first_of_Py_UCS1(data, start, n, set, lo, hi - lo); break;
    case PyUnicode_2BYTE_KIND: found = first_of_Py_UCS2(data, start, n, set, lo, hi - lo); break;
    default: found = first_of_Py_UCS4(data, start, n, set, lo, hi - lo); break;
    }
    return PyLong_FromSsize_t(found);
}

/* digit_runs(text, start=0, min_len=3) -> [(a, b), ...]: every maximal run of ASCII
   digits in text[start:] of at least `min_len` digits (a run that began before `start`
   counts from `start`), as re.finditer("[0-9]{min_len,}", text, start) spans would be.
   The PII recognizers are seeded from them; the regex costs ~6 ns a character, as it
   has no literal to search for. */
#define DIGIT_RUNS(T)                                                                \
    static int digit_runs_##T(const T *d, Py_ssize_t start, Py_ssize_t n,           \
                              Py_ssize_t min_len, PyObject *out) {                   \
        Py_ssize_t i = start;                                                        \
        while (i < n) {                                                              \
            if (i + SPAN <= n) {                                                     \
                int near = 0;                                                        \
                for (int k = 0; k < SPAN; k++) near |= (uint32_t)d[i + k] - '0' <= 9u; \
                if (!near) { i += SPAN; continue; }                                  \
            }                                                                        \
            if ((uint32_t)d[i] - '0' > 9u) { i++; continue; }                        \
            Py_ssize_t a = i;                                                        \
            while (i < n && (uint32_t)d[i] - '0' <= 9u) i++;                         \
            if (i - a >= min_len) {                                                  \
                PyObject *t = Py_BuildValue("(nn)", a, i);                           \
                if (!t || PyList_Append(out, t) < 0) { Py_XDECREF(t); return -1; }   \
                Py_DECREF(t);                                                        \
            }                                                                        \
        }                                                                            \
        return 0;                                                                    \
    }
DIGIT_RUNS(Py_UCS1)
DIGIT_RUNS(Py_UCS2)
DIGIT_RUNS(Py_UCS4)
#undef DIGIT_RUNS

static PyObject *digit_runs(PyObject *Py_UNUSED(mod), PyObject *args) {
    PyObject *text;
    Py_ssize_t start = 0, min_len = 3;
    if (!PyArg_ParseTuple(args, "U|nn", &text, &start, &min_len)) return NULL;
    if (min_len < 1) { PyErr_SetString(PyExc_ValueError, "min_len must be at least 1"); return NULL; }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (start < 0) start = 0;
    PyObject *out = PyList_New(0);
    if (!out) return NULL;
    const void *data = PyUnicode_DATA(text);
    int rc;
    switch (PyUnicode_KIND(text)) {
    case PyUnicode_1BYTE_KIND: rc = digit_runs_Py_UCS1(data, start, n, min_len, out); break;
    case PyUnicode_2BYTE_KIND: rc = digit_runs_Py_UCS2(data, start, n, min_len, out); break;
    default: rc = digit_runs_Py_UCS4(data, start, n, min_len, out); break;
    }
    if (rc < 0) { Py_DECREF(out); return NULL; }
    return out;
}
#undef SPAN

/* shingle_hashes(texts, ngram) -> (hashes, offsets): for every text, the 32-bit
   polynomial hash (FNV-1 prime, wrapping) of each window of `ngram` code points,
       d[i] * P^(n-1) + d[i+1] * P^(n-2) + ... + d[i+n-1]   (mod 2^32),
   widened to uint64 and laid out one text after another; offsets (uint64, one more
   than there are texts) say where each text's hashes begin. A text shorter than
   `ngram` has none. The MinHash signatures of hegui.corpus are built on these.
   A rolling hash would be one long chain of dependent multiplications, one link per
   character; here each window is summed on its own, term by term over a block of
   windows, so the compiler runs 8 windows per instruction (AVX2 where the CPU has it). */
#define WINDOWS 1024 /* windows summed together: 4 KB of partial sums stay in L1 */

/* an AVX2 copy of each kernel, chosen at load time (GCC, x86, glibc: it needs ifunc) */
#if defined(__GNUC__) && !defined(__clang__) && (defined(__x86_64__) || defined(__i386__)) && defined(__GLIBC__)
#define CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CLONES
#endif

/* acc[i] = the polynomial hash of the window at p[i], for i < m: a column at a time,
   so each step is one multiply-add over m lanes */
#define WINDOW_HASHES(T, p, m, ngram, weight, acc)                              \
    do {                                                                       \
        for (Py_ssize_t i = 0; i < (m); i++) (acc)[i] = (uint32_t)(p)[i] * (weight)[0]; \
        for (int k = 1; k < (ngram); k++) {                                    \
            const T *q = (p) + k;                                              \
            uint32_t w = (weight)[k];                                          \
            for (Py_ssize_t i = 0; i < (m); i++) (acc)[i] += (uint32_t)q[i] * w; \
        }                                                                      \
    } while (0)

#define KERNEL(NAME, T)                                                          \
    CLONES static void NAME(const T *d, Py_ssize_t windows, int ngram,         \
                            const uint32_t *weight, uint64_t *out) {           \
        uint32_t acc[WINDOWS];                                                 \
        for (Py_ssize_t base = 0; base < windows; base += WINDOWS) {           \
            Py_ssize_t m = windows - base < WINDOWS ? windows - base : WINDOWS; \
            const T *p = d + base;                                             \
            WINDOW_HASHES(T, p, m, ngram, weight, acc);                        \
            for (Py_ssize_t i = 0; i < m; i++) out[base + i] = acc[i];         \
        }                                                                      \
    }

KERNEL(windows_ucs1, Py_UCS1)
KERNEL(windows_ucs2, Py_UCS2)
KERNEL(windows_ucs4, Py_UCS4)

static PyObject *shingle_hashes(PyObject *Py_UNUSED(mod), PyObject *args) {
    PyObject *texts;
    int ngram;
    if (!PyArg_ParseTuple(args, "O!i", &PyList_Type, &texts, &ngram)) return NULL;
    if (ngram < 1) { PyErr_SetString(PyExc_ValueError, "ngram must be at least 1"); return NULL; }
    Py_ssize_t count = PyList_GET_SIZE(texts), total = 0;
    for (Py_ssize_t t = 0; t < count; t++) {
        PyObject *text = PyList_GET_ITEM(texts, t);
        if (!PyUnicode_Check(text)) { PyErr_SetString(PyExc_TypeError, "texts must be str"); return NULL; }
        Py_ssize_t len = PyUnicode_GET_LENGTH(text);
        if (len >= ngram) total += len - ngram + 1;
    }
    uint32_t *weight = PyMem_Malloc((size_t)ngram * sizeof(uint32_t));
    if (!weight) return PyErr_NoMemory();
    /* weight[k] = P^(ngram-1-k): the oldest code point of a window has the highest power */
    weight[ngram - 1] = 1;
    for (int k = ngram - 2; k >= 0; k--) weight[k] = weight[k + 1] * 0x01000193u;
    PyObject *hashes = PyBytes_FromStringAndSize(NULL, total * (Py_ssize_t)sizeof(uint64_t));
    PyObject *offsets = PyBytes_FromStringAndSize(NULL, (count + 1) * (Py_ssize_t)sizeof(uint64_t));
    if (!hashes || !offsets) {
        Py_XDECREF(hashes);
        Py_XDECREF(offsets);
        PyMem_Free(weight);
        return NULL;
    }
    uint64_t *out = (uint64_t *)PyBytes_AS_STRING(hashes);
    uint64_t *off = (uint64_t *)PyBytes_AS_STRING(offsets);
    Py_ssize_t at = 0;
    for (Py_ssize_t t = 0; t < count; t++) {
        PyObject *text = PyList_GET_ITEM(texts, t);
        off[t] = (uint64_t)at;
        Py_ssize_t len = PyUnicode_GET_LENGTH(text);
        if (len < ngram) continue;
        Py_ssize_t windows = len - ngram + 1;
        const void *data = PyUnicode_DATA(text);
        switch (PyUnicode_KIND(text)) {
        case PyUnicode_1BYTE_KIND: windows_ucs1(data, windows, ngram, weight, out + at); break;
        case PyUnicode_2BYTE_KIND: windows_ucs2(data, windows, ngram, weight, out + at); break;
        default: windows_ucs4(data, windows, ngram, weight, out + at); break;
        }
        at += windows;
    }
    off[count] = (uint64_t)at;
    PyMem_Free(weight);
    return Py_BuildValue("(NN)", hashes, offsets);
}

/* oph_signatures(texts, ngram, num_perm, seed) -> (signatures, has): MinHash
   signatures of every text by one permutation hashing (Li, Owen & Zhang, "One
   Permutation Hashing", NIPS 2012) with optimal densification (Shrivastava, "Optimal
   Densification for Fast and Accurate Minwise Hashing", ICML 2017), straight from the
   texts: the shingle hashes are those of shingle_hashes() above, made block by block
   and never laid out for the whole batch.
   Each shingle hash x is mixed, m = splitmix64(x ^ key) with key = splitmix64(seed ^
   OPH_SHINGLE_SALT); its bin is (m >> 32) * K >> 32 (K = num_perm) and its value the
   low 32 bits of m; a bin keeps the least value that falls into it. A bin no shingle
   fell into takes the value of the first bin j = (p >> 32) * K >> 32 that one did,
   p = splitmix64((i << 32 | t) ^ splitmix64(seed ^ OPH_PROBE_SALT)) for attempts
   t = 1, 2, ... (the same sequence for every document, so two documents agree on a
   bin with probability their Jaccard similarity). After OPH_MAX_PROBES attempts (never
   in practice) it takes the next filled bin after i, cyclically, instead.
   signatures: uint32, len(texts) x num_perm, row by row, as a bytearray; has: one byte
   per text, 1 when it has a shingle. A text shorter than `ngram` has no shingle: its
   row is all 0xFFFFFFFF and has is 0. */
#define OPH_SHINGLE_SALT 0x9E3779B97F4A7C15ULL
#define OPH_PROBE_SALT 0xD1B54A32D192ED03ULL
#define OPH_MAX_PROBES 4096
/* besides AVX2, a copy for AVX-512 (x86-64-v4), which multiplies 64-bit lanes natively */
#if defined(__GNUC__) && !defined(__clang__) && (defined(__x86_64__) || defined(__i386__)) && defined(__GLIBC__)
#define OPH_CLONES __attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
#else
#define OPH_CLONES
#endif

static inline uint64_t splitmix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* one block of windows: polynomial hashes as in KERNEL, then mix, bin and minimum.
   The hashes, mixes and bins are computed a vector at a time; the minima are kept
   in 64-bit slots (empty: UINT64_MAX, above every 32-bit value) one shingle at a time. */
#define OPH_KERNEL(NAME, T)                                                              \
    OPH_CLONES static void NAME(const T *d, Py_ssize_t windows, int ngram, const uint32_t *weight, \
                            uint64_t key, uint32_t k, uint64_t *slot) {                 \
        uint32_t acc[WINDOWS], bin[WINDOWS], val[WINDOWS];                               \
        for (Py_ssize_t base = 0; base < windows; base += WINDOWS) {                     \
            Py_ssize_t m = windows - base < WINDOWS ? windows - base : WINDOWS;          \
            const T *p = d + base;                                                       \
            WINDOW_HASHES(T, p, m, ngram, weight, acc);                                  \
            for (Py_ssize_t i = 0; i < m; i++) {                                         \
                uint64_t h = splitmix64((uint64_t)acc[i] ^ key);                         \
                bin[i] = (uint32_t)(((h >> 32) * k) >> 32);                              \
                val[i] = (uint32_t)h;                                                    \
            }                                                                            \
            for (Py_ssize_t i = 0; i < m; i++) {                                         \
                uint64_t v = val[i], s = slot[bin[i]];                                   \
                slot[bin[i]] = v < s ? v : s;                                            \
            }                                                                            \
        }                                                                                \
    }

OPH_KERNEL(oph_ucs1, Py_UCS1)
OPH_KERNEL(oph_ucs2, Py_UCS2)
OPH_KERNEL(oph_ucs4, Py_UCS4)

static PyObject *oph_signatures(PyObject *Py_UNUSED(mod), PyObject *args) {
    PyObject *texts;
    int ngram, num_perm;
    unsigned long long seed;
    if (!PyArg_ParseTuple(args, "O!iiK", &PyList_Type, &texts, &ngram, &num_perm, &seed)) return NULL;
    if (ngram < 1) { PyErr_SetString(PyExc_ValueError, "ngram must be at least 1"); return NULL; }
    if (num_perm < 1) { PyErr_SetString(PyExc_ValueError, "num_perm must be at least 1"); return NULL; }
    Py_ssize_t count = PyList_GET_SIZE(texts);
    for (Py_ssize_t t = 0; t < count; t++)
        if (!PyUnicode_Check(PyList_GET_ITEM(texts, t))) {
            PyErr_SetString(PyExc_TypeError, "texts must be str");
            return NULL;
        }
    uint32_t k = (uint32_t)num_perm;
    uint32_t *weight = PyMem_Malloc((size_t)ngram * sizeof(uint32_t));
    uint64_t *slot = PyMem_Malloc((size_t)k * sizeof(uint64_t));
    PyObject *sigs = PyByteArray_FromStringAndSize(NULL, count * (Py_ssize_t)k * 4);
    PyObject *has = PyBytes_FromStringAndSize(NULL, count);
    if (!weight || !slot || !sigs || !has) {
        PyMem_Free(weight);
        PyMem_Free(slot);
        Py_XDECREF(sigs);
        Py_XDECREF(has);
        return PyErr_Occurred() ? NULL : PyErr_NoMemory();
    }
    weight[ngram - 1] = 1;
    for (int j = ngram - 2; j >= 0; j--) weight[j] = weight[j + 1] * 0x01000193u;
    uint64_t key = splitmix64(seed ^ OPH_SHINGLE_SALT), probe_key = splitmix64(seed ^ OPH_PROBE_SALT);
    uint32_t *out = (uint32_t *)PyByteArray_AS_STRING(sigs);
    char *flag = PyBytes_AS_STRING(has);
    for (Py_ssize_t t = 0; t < count; t++, out += k) {
        PyObject *text = PyList_GET_ITEM(texts, t);
        Py_ssize_t len = PyUnicode_GET_LENGTH(text);
        flag[t] = len >= ngram;
        if (len < ngram) {
            memset(out, 0xFF, (size_t)k * 4);
            continue;
        }
        for (uint32_t i = 0; i < k; i++) slot[i] = UINT64_MAX;
        Py_ssize_t windows = len - ngram + 1;
        const void *data = PyUnicode_DATA(text);
        switch (PyUnicode_KIND(text)) {
        case PyUnicode_1BYTE_KIND: oph_ucs1(data, windows, ngram, weight, key, k, slot); break;
        case PyUnicode_2BYTE_KIND: oph_ucs2(data, windows, ngram, weight, key, k, slot); break;
        default: oph_ucs4(data, windows, ngram, weight, key, k, slot); break;
        }
        /* optimal densification: an empty bin borrows from a bin a shingle fell into
           (copies go to `out` only, so a bin that borrowed never lends) */
        for (uint32_t i = 0; i < k; i++) {
            if (slot[i] != UINT64_MAX) { out[i] = (uint32_t)slot[i]; continue; }
            uint32_t j = i;
            for (uint32_t a = 1; a <= OPH_MAX_PROBES; a++) {
                uint64_t h = splitmix64(((uint64_t)i << 32 | a) ^ probe_key);
                uint32_t c = (uint32_t)(((h >> 32) * k) >> 32);
                if (slot[c] != UINT64_MAX) { j = c; break; }
            }
            while (slot[j] == UINT64_MAX) j = j + 1 == k ? 0 : j + 1;
            out[i] = (uint32_t)slot[j];
        }
    }
    PyMem_Free(weight);
    PyMem_Free(slot);
    return Py_BuildValue("(NN)", sigs, has);
}

static PyMethodDef module_methods[] = {
    {"first_of", first_of, METH_VARARGS,
     "first_of(text, chars, start=0) -> index of the first of the ASCII chars, or -1"},
    {"digit_runs", digit_runs, METH_VARARGS,
     "digit_runs(text, start=0, min_len=3) -> spans of the maximal runs of ASCII digits"},
    {"shingle_hashes", shingle_hashes, METH_VARARGS,
     "shingle_hashes(texts, ngram) -> (uint64 hashes as bytes, uint64 offsets as bytes)"},
    {"oph_signatures", oph_signatures, METH_VARARGS,
     "oph_signatures(texts, ngram, num_perm, seed) -> (uint32 signatures as bytearray, has as bytes)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "_fastscan", "Fused fold and multi-pattern scan.", -1, module_methods, NULL, NULL, NULL, NULL,
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
