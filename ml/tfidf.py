"""A TfidfVectorizer whose transform counts terms faster, with output identical to the parent's."""

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
_CACHES = ("_word_cache", "_cached_analyzer", "_cached_preprocessor")


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
        try:
            preprocess = self._cached_preprocessor
        except AttributeError:
            preprocess = self._cached_preprocessor = self.build_preprocessor()
            self._word_cache = {}
        words = preprocess(self.decode(document)).split()
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
            preprocess = self._cached_preprocessor = self.build_preprocessor()
            cache = self._word_cache = {}
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
