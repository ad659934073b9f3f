"""An in-memory inverted index over the stored search documents, ranked with BM25F.

One ``Bm25Index`` is an immutable snapshot of one root model's documents (all pages, all images,
…); the backend builds it from the ``SearchDocument`` rows and replaces it when the index changed.
Each document has two fields, the title and the body; a term's frequency in each is normalised by
that field's length (BM25F: Robertson, Zaragoza and Taylor 2004) and the title counts
``title_weight`` times, so a page whose title names the topic ranks above one that mentions it.

    tf~(t, d) = Σ_f  w_f · tf_f(t, d) / (1 − b + b · len_f(d) / avglen_f)
    score(d)  = Σ_t  idf(t) · tf~ · (k1 + 1) / (k1 + tf~)
    idf(t)    = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))       (Lucene's, never negative)
"""

from __future__ import annotations

import bisect
import math
from array import array
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

K1 = 1.2
B = 0.75
TITLE_WEIGHT = 3.0
_MAX_TF = 65535


@dataclass(frozen=True, slots=True)
class Posting:
    """The documents containing one term, with the term's frequency in each field."""

    docs: array  # document numbers, ascending
    title_tf: array
    body_tf: array


class Bm25Index:
    """Postings, field lengths and vocabulary of one root model's documents."""

    def __init__(
        self,
        documents: Iterable[tuple[object, int, str, str]],
        *,
        k1: float = K1,
        b: float = B,
        title_weight: float = TITLE_WEIGHT,
    ) -> None:
        """``documents``: (primary key, content type id, title terms, body terms), terms space-joined."""
        self.k1 = k1
        self.b = b
        self.title_weight = title_weight
        self.pks: list[object] = []
        self.content_types = array("l")
        title_lengths: list[int] = []
        body_lengths: list[int] = []
        collecting: dict[str, tuple[list[int], list[int], list[int]]] = {}
        for number, (pk, content_type_id, title, body) in enumerate(documents):
            self.pks.append(pk)
            self.content_types.append(content_type_id)
            title_terms = title.split()
            body_terms = body.split()
            title_lengths.append(len(title_terms))
            body_lengths.append(len(body_terms))
            title_counts = Counter(title_terms)
            body_counts = Counter(body_terms)
            for term in title_counts.keys() | body_counts.keys():
                lists = collecting.get(term)
                if lists is None:
                    lists = collecting[term] = ([], [], [])
                lists[0].append(number)
                lists[1].append(min(title_counts.get(term, 0), _MAX_TF))
                lists[2].append(min(body_counts.get(term, 0), _MAX_TF))
        self.postings: dict[str, Posting] = {
            term: Posting(array("l", docs), array("H", title_tf), array("H", body_tf))
            for term, (docs, title_tf, body_tf) in collecting.items()
        }
        self.vocabulary: list[str] = sorted(self.postings)
        self.size = len(self.pks)
        self.title_norms = self._norms(title_lengths)
        self.body_norms = self._norms(body_lengths)

    def _norms(self, lengths: Sequence[int]) -> array:
        """1 − b + b · len / avglen per document (1 where the field is empty everywhere)."""
        total = sum(lengths)
        if not total:
            return array("d", [1.0] * len(lengths))
        average = total / len(lengths)
        return array("d", [1 - self.b + self.b * length / average for length in lengths])

    def __len__(self) -> int:
        return self.size

    def document_frequency(self, term: str) -> int:
        posting = self.postings.get(term)
        return len(posting.docs) if posting else 0

    def idf(self, term: str) -> float:
        df = self.document_frequency(term)
        return math.log(1 + (self.size - df + 0.5) / (df + 0.5))

    def term_scores(
        self,
        term: str,
        *,
        title: bool = True,
        body: bool = True,
        k1: float | None = None,
        title_weight: float | None = None,
    ) -> dict[int, float]:
        """BM25F contribution of one term per document that contains it (in the chosen fields)."""
        posting = self.postings.get(term)
        if posting is None or not (title or body):
            return {}
        idf = self.idf(term)
        k1 = self.k1 if k1 is None else k1
        if not title:
            title_weight = 0.0
        elif title_weight is None:
            title_weight = self.title_weight
        body_weight = 1.0 if body else 0.0
        title_norms = self.title_norms
        body_norms = self.body_norms
        scores: dict[int, float] = {}
        for doc, title_tf, body_tf in zip(posting.docs, posting.title_tf, posting.body_tf, strict=True):
            tf = title_weight * title_tf / title_norms[doc] + body_weight * body_tf / body_norms[doc]
            if tf > 0:
                scores[doc] = idf * tf * (k1 + 1) / (k1 + tf)
        return scores

    def expand_prefix(self, prefix: str, limit: int) -> list[str]:
        """Vocabulary terms starting with ``prefix``; the ``limit`` most frequent when more."""
        start = bisect.bisect_left(self.vocabulary, prefix)
        found: list[str] = []
        vocabulary = self.vocabulary
        for position in range(start, len(vocabulary)):
            term = vocabulary[position]
            if not term.startswith(prefix):
                break
            found.append(term)
        if len(found) > limit:
            found.sort(key=lambda term: (-self.document_frequency(term), term))
            found = found[:limit]
        return found
