"""A TfidfVectorizer whose transform counts terms faster, with output identical to the parent's."""

import threading
from collections.abc import Callable, Sequence
from itertools import chain, pairwise, repeat
from operator import itemgetter

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

# Character n-grams of a word never change, so they are cached per word, up to this many words
# so that serving cannot grow the cache without bound. A full cache keeps the words it holds and
# takes no new ones: emptying it would throw away the common words (which make most of any
# text) for the sake of rare ones, and a stream of new words (names, hashtags, links) would
# empty it again and again.
WORD_CACHE_SIZE = 50_000
_CACHES = (
    "_word_cache",
    "_cached_analyzer",
    "_cached_preprocessor",
    "_cached_tokenizer",
    "_gram_table",
)


class CachedTfidfVectorizer(TfidfVectorizer):
    """TfidfVectorizer with a faster ``transform``, most of all for ``analyzer="char_wb"``.

    ``fit`` is the parent's. ``transform`` looks terms up with one dict access each, and with
    char_wb looks up each word's n-grams once and caches them. ``term_counts`` is the same
    counting for one document, used by the single-tweet scorer.
    """

    def term_counts(self, document: str) -> tuple[np.ndarray, np.ndarray]:
        """Sorted vocabulary indices of the terms in ``document`` and how often each occurs."""
        found = self._term_indices(document)
        # Short rows of distinct terms (keywords, locations, most word rows) are common and
        # cheaper in plain Python than through np.unique's fixed cost.
        if len(found) < 64:
            distinct = sorted(set(found))
            if len(distinct) == len(found):
                return np.array(distinct, dtype=np.int64), np.ones(len(found), dtype=np.int64)
        return np.unique(np.array(found, dtype=np.int64), return_counts=True)

    def preprocessed(self, documents: Sequence[str]) -> list[str]:
        """Each document decoded and preprocessed, as the analyzer sees it before splitting."""
        preprocess = self._preprocessor()
        if self.input == "content":  # decode returns a str as it is
            return [preprocess(doc if type(doc) is str else self.decode(doc)) for doc in documents]
        return [preprocess(self.decode(document)) for document in documents]

    def term_occurrences(
        self, documents: Sequence[str], *, preprocessed: Sequence[str] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Row and vocabulary index of every occurrence of a known term in ``documents``, in no
        particular order: the counts ``transform`` adds up, as two int64 arrays.

        ``preprocessed`` is ``self.preprocessed(documents)`` when the caller already has it.
        char_wb and plain word n-grams (n <= 2) are counted a batch at a time with numpy;
        other analyzers a document at a time. A column with many repeated values (keywords,
        locations) is analysed once per distinct value.
        """
        check_is_fitted(self, msg="The TF-IDF vectorizer is not fitted")
        if preprocessed is None:
            codes: dict[str, int] = {}
            rows = [codes.setdefault(document, len(codes)) for document in documents]
            if len(codes) <= len(rows) // 2:
                distinct_rows, indices = self._occurrences(list(codes), None)
                # Each distinct value's indices together, then copied to each row that has it.
                order = np.argsort(distinct_rows, kind="stable")
                lengths = np.bincount(distinct_rows, minlength=len(codes))
                starts = np.cumsum(lengths) - lengths
                row_lengths = lengths[rows]
                positions = _gather(starts[rows], row_lengths)
                return np.repeat(np.arange(len(rows)), row_lengths), indices[order][positions]
        return self._occurrences(documents, preprocessed)

    def _occurrences(
        self, documents: Sequence[str], preprocessed: Sequence[str] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        if self.analyzer == "char_wb":
            texts = preprocessed if preprocessed is not None else self.preprocessed(documents)
            return self._char_wb_occurrences(texts)
        if (
            self.analyzer == "word"
            and self.tokenizer is None
            and self.stop_words is None
            and tuple(self.ngram_range) in ((1, 1), (1, 2))
        ):
            texts = preprocessed if preprocessed is not None else self.preprocessed(documents)
            return self._word_occurrences(texts)
        lists = [self._term_indices(document) for document in documents]
        rows = np.repeat(np.arange(len(lists)), [len(found) for found in lists])
        indices = np.fromiter(chain.from_iterable(lists), dtype=np.int64, count=len(rows))
        return rows, indices

    def transform(self, raw_documents):
        """TF-IDF matrix of ``raw_documents``, equal to TfidfVectorizer.transform's."""
        check_is_fitted(self, msg="The TF-IDF vectorizer is not fitted")
        if isinstance(raw_documents, str):
            raise ValueError("Iterable over raw text documents expected, string object received.")
        found: list[int] = []
        ends = [0]
        for document in raw_documents:
            found += self._term_indices(document)
            ends.append(len(found))
        # One conversion at the end: cheaper than growing an array.array document by document.
        indices = np.fromiter(found, dtype=np.int64, count=len(found))
        indptr = np.array(ends, dtype=np.int64)
        matrix = sp.csr_matrix(
            (np.ones(len(indices), dtype=self.dtype), indices, indptr),
            shape=(len(indptr) - 1, len(self.vocabulary_)),
        )
        # Sorts each row's indices and adds up repeated terms into counts.
        matrix.sum_duplicates()
        if self.binary:
            matrix.data.fill(1)
        return self._tfidf.transform(matrix, copy=False)

    def fit(self, raw_documents, y=None):
        self._clear_caches()
        return super().fit(raw_documents, y)

    def fit_transform(self, raw_documents, y=None):
        self._clear_caches()
        return super().fit_transform(raw_documents, y)

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        for cache in _CACHES:
            state.pop(cache, None)
        return state

    def _clear_caches(self) -> None:
        for cache in _CACHES:
            self.__dict__.pop(cache, None)

    def _preprocessor(self):
        try:
            return self._cached_preprocessor
        except AttributeError:
            self._cached_preprocessor = self.build_preprocessor()
            return self._cached_preprocessor

    def _word_cache_dict(self) -> dict[str, list[int]]:
        return self.__dict__.setdefault("_word_cache", {})

    def _word_occurrences(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The word analyzer's unigrams and (for ngram_range (1, 2)) bigrams, every document's
        tokens found one regex call each and looked up all at once."""
        try:
            tokenize = self._cached_tokenizer
        except AttributeError:
            tokenize = self._cached_tokenizer = self.build_tokenizer()
        token_lists = list(map(tokenize, texts))
        tokens = list(chain.from_iterable(token_lists))
        lookup = self.vocabulary_.get
        token_rows = np.repeat(np.arange(len(texts)), list(map(len, token_lists)))
        unigrams = np.fromiter(map(lookup, tokens, repeat(-1)), dtype=np.int64, count=len(tokens))
        rows, indices = [token_rows], [unigrams]
        if self.ngram_range[1] == 2 and len(tokens) > 1:
            # Pairs of consecutive tokens of the whole batch; those that straddle two
            # documents are dropped below.
            pairs = map(" ".join, pairwise(tokens))
            bigrams = np.fromiter(map(lookup, pairs, repeat(-1)), np.int64, len(tokens) - 1)
            bigrams[token_rows[1:] != token_rows[:-1]] = -1
            rows.append(token_rows[:-1])
            indices.append(bigrams)
        row, index = np.concatenate(rows), np.concatenate(indices)
        known = index >= 0
        return row[known], index[known]

    def _char_wb_occurrences(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """char_wb n-grams of a batch: each word's are looked up once in a table of the words
        seen so far and gathered with numpy."""
        try:
            table = self._gram_table
        except AttributeError:
            table = self.__dict__.setdefault("_gram_table", _GramTable(self))
        word_lists = list(map(str.split, texts))
        word_rows = np.repeat(np.arange(len(texts)), list(map(len, word_lists)))
        starts, stops, grams = table.spans(list(chain.from_iterable(word_lists)))
        lengths = stops - starts
        positions = _gather(starts, lengths)
        return np.repeat(word_rows, lengths), grams[positions].astype(np.int64)

    def _analyzer(self):
        try:
            return self._cached_analyzer
        except AttributeError:
            self._cached_analyzer = self.build_analyzer()
            return self._cached_analyzer

    def _term_indices(self, document: str) -> list[int]:
        """Vocabulary indices of the terms of ``document``, repeated as often as they occur."""
        if self.analyzer == "char_wb":
            return self._char_wb_indices(document)
        lookup = self.vocabulary_.get
        return [i for i in map(lookup, self._analyzer()(document)) if i is not None]

    def word_ngram_indices(self, document: str) -> list[tuple[str, list[int]]]:
        """char_wb only: each word of the preprocessed ``document``, in order, with the
        vocabulary indices of its n-grams (the explanations map n-grams back to words)."""
        if self.analyzer != "char_wb":
            raise ValueError("word_ngram_indices needs analyzer='char_wb'")
        self._word_cache_dict()
        words = self._preprocessor()(self.decode(document)).split()
        return [(word, self._word_indices(word)) for word in words]

    def _word_indices(self, word: str) -> list[int]:
        indices = self._word_cache.get(word)
        if indices is None:
            lookup = self.vocabulary_.get
            indices = [i for i in map(lookup, self._char_wb_ngrams(word)) if i is not None]
            if len(self._word_cache) < WORD_CACHE_SIZE:
                self._word_cache[word] = indices
        return indices

    def _char_wb_indices(self, document: str) -> list[int]:
        # char_wb n-grams never cross a word boundary, so a document's n-grams are its
        # words' n-grams one after the other (as the parent's _char_wb_ngrams makes them).
        try:
            preprocess, cache = self._cached_preprocessor, self._word_cache
        except AttributeError:
            preprocess, cache = self._preprocessor(), self._word_cache_dict()
        found: list[int] = []
        for word in preprocess(self.decode(document)).split():
            indices = cache.get(word)
            if indices is None:
                lookup = self.vocabulary_.get
                grams = self._char_wb_ngrams(word)
                indices = [i for i in map(lookup, grams) if i is not None]
                if len(cache) < WORD_CACHE_SIZE:
                    cache[word] = indices
            found += indices
        return found


def _gather(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The positions ``starts[i] ... starts[i] + lengths[i] - 1`` for every ``i``, in order."""
    ends = np.cumsum(lengths)
    total = int(ends[-1]) if len(ends) else 0
    return np.arange(total) + np.repeat(starts - (ends - lengths), lengths)


def _char_wb_grams(
    words: Sequence[str], ngram_range: tuple[int, int]
) -> tuple[list[str], list[int]]:
    """The char_wb n-grams of each word, one word's after the other, and how many each has:
    what TfidfVectorizer._char_wb_ngrams gives for each word, cut by one C call per word."""
    cutters: dict[int, Callable[[str], tuple[str, ...]]] = {}
    pieces = []
    for word in words:
        padded = f" {word} "
        cut = cutters.get(len(padded))
        if cut is None:
            cut = cutters[len(padded)] = _char_wb_cutter(len(padded), ngram_range)
        pieces.append(cut(padded))
    return list(chain.from_iterable(pieces)), list(map(len, pieces))


def _char_wb_cutter(size: int, ngram_range: tuple[int, int]) -> Callable[[str], tuple[str, ...]]:
    """The n-grams of a padded word of ``size`` characters, in _char_wb_ngrams's order: every
    window of each n, except that a word no longer than n counts once, whole, and ends the list."""
    slices = []
    for n in range(ngram_range[0], ngram_range[1] + 1):
        if size <= n:
            slices.append(slice(0, size))
            break
        slices += [slice(i, i + n) for i in range(size - n + 1)]
    if len(slices) == 1:
        return lambda padded: (padded[slices[0]],)
    return itemgetter(*slices)


class _GramTable:
    """A char_wb vectorizer's words with their n-grams' vocabulary indices, flat: word ``i``'s
    are ``grams[starts[i]:stops[i]]``. It takes new words up to WORD_CACHE_SIZE, under a lock;
    readers need none, as words are published (in ``_ids``) after their n-grams are written,
    and growing copies the arrays rather than changing the ones already handed out."""

    def __init__(self, vectorizer: CachedTfidfVectorizer) -> None:
        self._vectorizer = vectorizer
        self._ids: dict[str, int] = {}
        self._starts = np.zeros(1024, dtype=np.int64)
        self._stops = np.zeros(1024, dtype=np.int64)
        self._grams = np.zeros(16384, dtype=np.int32)
        self._used = 0
        self._lock = threading.Lock()

    def spans(self, words: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each word, where its n-grams' indices are: starts, stops, and the array of them."""
        ids = list(map(self._ids.get, words, repeat(-1)))
        extra: dict[str, int] = {}
        if -1 in ids:
            with self._lock:
                new = [word for word in dict.fromkeys(words) if word not in self._ids]
                extra_starts, extra_stops, extra_grams = self._add(new)
            ids = list(map(self._ids.get, words, repeat(-1)))
            left = new[len(new) - len(extra_starts) :]
            extra = {word: WORD_CACHE_SIZE + i for i, word in enumerate(left)}
            if extra:
                ids = [extra[w] if i == -1 else i for w, i in zip(words, ids, strict=True)]
        starts, stops, grams = self._starts, self._stops, self._grams
        if extra:  # words a full table did not take, kept for this call only
            starts = np.concatenate([starts[:WORD_CACHE_SIZE], extra_starts + len(grams)])
            stops = np.concatenate([stops[:WORD_CACHE_SIZE], extra_stops + len(grams)])
            grams = np.concatenate([grams, extra_grams])
        index = np.fromiter(ids, dtype=np.int64, count=len(ids))
        return starts[index], stops[index], grams

    def _add(self, words: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Put as many of ``words`` in the table as it has room for; the spans and n-gram
        indices of the others."""
        grams, lengths = _char_wb_grams(words, self._vectorizer.ngram_range)
        indices = np.fromiter(
            map(self._vectorizer.vocabulary_.get, grams, repeat(-1)), np.int64, len(grams)
        )
        known = indices >= 0
        owner = np.repeat(np.arange(len(words)), lengths)
        counts = np.bincount(owner[known], minlength=len(words))
        stops = np.cumsum(counts)
        starts = stops - counts
        indices = indices[known].astype(np.int32)

        taken = min(len(words), max(0, WORD_CACHE_SIZE - len(self._ids)))
        if taken:
            size = int(stops[taken - 1])
            first = len(self._ids)
            self._reserve(first + taken, self._used + size)
            self._grams[self._used : self._used + size] = indices[:size]
            self._starts[first : first + taken] = starts[:taken] + self._used
            self._stops[first : first + taken] = stops[:taken] + self._used
            self._used += size
            self._ids.update(zip(words[:taken], range(first, first + taken), strict=True))
        offset = int(starts[taken]) if taken < len(words) else 0
        return starts[taken:] - offset, stops[taken:] - offset, indices[offset:]

    def _reserve(self, words: int, grams: int) -> None:
        if words > len(self._starts):
            size = max(words, 2 * len(self._starts))
            self._starts = np.concatenate([self._starts, np.zeros(size - len(self._starts), int)])
            self._stops = np.concatenate([self._stops, np.zeros(size - len(self._stops), int)])
        if grams > len(self._grams):
            grown = np.zeros(max(grams, 2 * len(self._grams)), dtype=np.int32)
            grown[: self._used] = self._grams[: self._used]
            self._grams = grown
