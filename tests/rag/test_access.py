"""Access control enforced in retrieval, with the real store and embedder: canary documents
(each restricted group's holds a unique marker word), the rules file, users and groups, and a
property-based check over random users, groups and rules (local folder and Chroma server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from ingest.sync import run_sync
from rag import factories
from rag.access import Access, Rule, access_of, load_rules
from rag.config import Settings, load_settings
from rag.errors import ConfigError
from rag.users import User, Users
from tests.servers import chroma_server

CANARIES = {  # source -> (marker, text)
    "public/handbook.md": ("lanternfish", "# Handbook\n\nThe lanternfish room is open to all staff.\n"),
    "hr/salaries.md": ("zebracanary", "# Salary bands\n\nBand zebracanary pays 90,000 a year.\n"),
    "board/minutes.md": ("quokkacanary", "# Board minutes\n\nThe board approved project quokkacanary.\n"),
    "hr/cases/case-17.md": ("okapicanary", "# HR case 17\n\nCase okapicanary was settled in March.\n"),
}
RULES = "- {path: 'hr/*', groups: [hr]}\n- {path: 'board/*', groups: [board]}\n"


def _write_docs(docs: Path) -> None:
    for source, (_, text) in CANARIES.items():
        (docs / source).parent.mkdir(parents=True, exist_ok=True)
        (docs / source).write_text(text)


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    root = tmp_path_factory.mktemp("access")
    _write_docs(root / "docs")
    (root / "access.yaml").write_text(RULES)
    settings = load_settings(docs_dir=root / "docs", store_dir=root / "store",
                             access_file=root / "access.yaml")
    assert run_sync([], settings).files_added == len(CANARIES)
    users = Users(settings)
    users.add("alice", groups=["hr"])
    users.add("bob", groups=["board"])
    users.add("carol")
    users.add("root", admin=True)
    users.close()
    return settings


def _sources(settings: Settings, retriever: object, query: str, name: str | None) -> set[str]:
    hidden = retriever.hidden(access_of(settings, name))  # type: ignore[attr-defined]
    return {h.source for h in retriever.search(query, 10, hidden=hidden)}  # type: ignore[attr-defined]


def test_rules_first_match_decides_and_bad_files_say_what_to_fix(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("- {path: 'hr/public/*', groups: [all-staff]}\n- {path: 'hr/*', groups: [hr]}\n")
    settings = load_settings(access_file=path)
    access = Access(user=User("dan", frozenset({"all-staff"})), rules=tuple(load_rules(settings)))
    assert access.allows("hr/public/holidays.md") and not access.allows("hr/pay.md")
    assert access.allows("canteen.md")  # no rule: everyone
    path.write_text("- {path: 'hr/*', groups: hr}\n")
    with pytest.raises(ConfigError, match="must look like"):
        load_rules(settings)
    path.write_text("- {path: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_rules(settings)
    assert Rule("hr/*", frozenset()).matches("hr/a/b.md")  # * crosses folders


def test_canaries_never_reach_a_user_who_may_not_see_them(kb: Settings) -> None:
    retriever = factories.build_retriever(kb)
    sees = {"alice": {"public/handbook.md", "hr/salaries.md", "hr/cases/case-17.md"},
            "bob": {"public/handbook.md", "board/minutes.md"},
            "carol": {"public/handbook.md"},
            "root": set(CANARIES), None: set(CANARIES)}
    for name, allowed in sees.items():
        for source, (marker, _) in CANARIES.items():
            found = _sources(kb, retriever, f"What about {marker}?", name)
            assert found <= allowed, (name, marker, found)
            assert (source in found) == (source in allowed), (name, marker, found)


def test_a_group_change_takes_effect_on_the_next_question(kb: Settings) -> None:
    retriever = factories.build_retriever(kb)
    users = Users(kb)
    try:
        users.add("erin", groups=["hr"])
        assert "hr/salaries.md" in _sources(kb, retriever, "zebracanary band", "erin")
        users.set_groups("erin", [])
        assert "hr/salaries.md" not in _sources(kb, retriever, "zebracanary band", "erin")
    finally:
        users.remove("erin")
        users.close()


def test_cli_answers_as_the_user(kb: Settings) -> None:
    env = {**os.environ, "RAG_ACCESS_FILE": str(kb.access_file), "RAG_DOCS_DIR": str(kb.docs_dir)}
    questions = "\n".join(f"What is {marker}?" for marker, _ in CANARIES.values()) + "\n"
    done = subprocess.run([sys.executable, "-m", "rag", "chat", "--json", "--user", "carol",
                           "--store", str(kb.store_dir)], input=questions, capture_output=True,
                          text=True, timeout=600, env=env, check=False)
    assert done.returncode == 0, done.stderr
    answers = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(answers) == len(CANARIES)
    for answer, (source, (marker, _)) in zip(answers, CANARIES.items(), strict=True):
        shown = json.dumps(answer, ensure_ascii=False)
        if source == "public/handbook.md":
            assert answer["citations"], answer
            continue
        assert marker not in shown and source not in shown, answer  # nothing of it, anywhere
    search = subprocess.run([sys.executable, "-m", "rag", "search", "zebracanary", "--json",
                             "--user", "alice", "--store", str(kb.store_dir)],
                            capture_output=True, text=True, timeout=300, env=env, check=False)
    assert json.loads(search.stdout.splitlines()[-1])["hits"][0]["source"] == "hr/salaries.md"
    unknown = subprocess.run([sys.executable, "-m", "rag", "search", "x", "--user", "mallory",
                              "--store", str(kb.store_dir)], capture_output=True, text=True,
                             timeout=300, env=env, check=False)
    assert unknown.returncode == 2 and "no user 'mallory'" in unknown.stderr


# --- property-based: random groups, users and rules ---------------------------------------
GROUPS = ["hr", "board", "legal", "eng", "sales"]
DOCS = [f"d{i}/doc{i}.md" for i in range(8)]
MARKERS = ["axolotl", "bilby", "caracal", "dugong", "echidna", "fossa", "gerenuk", "hoatzin"]


def _property_store(settings: Settings) -> None:
    docs = Path(settings.docs_dir)
    for source, marker in zip(DOCS, MARKERS, strict=True):
        (docs / source).parent.mkdir(parents=True, exist_ok=True)
        (docs / source).write_text(f"# Note {marker}\n\nThe {marker} budget is {len(marker)} million.\n")
    assert run_sync([], settings).files_added == len(DOCS)


rules_strategy = st.lists(st.tuples(st.sampled_from(DOCS + ["d1/*", "d2*", "*", "d?/doc?.md"]),
                                    st.frozensets(st.sampled_from(GROUPS))), max_size=5)
user_strategy = st.tuples(st.frozensets(st.sampled_from(GROUPS)), st.booleans())


def _check_no_leak(settings: Settings, retriever: object, rules: list[tuple[str, frozenset[str]]],
                   user: tuple[frozenset[str], bool], target: int) -> None:
    access = Access(user=User("u", user[0], admin=user[1]),
                    rules=tuple(Rule(p, g) for p, g in rules))
    hidden = retriever.hidden(access)  # type: ignore[attr-defined]
    hits = retriever.search(f"How large is the {MARKERS[target]} budget?", 5, hidden=hidden)  # type: ignore[attr-defined]
    assert all(access.allows(h.source) for h in hits)
    if access.allows(DOCS[target]):
        assert hits and hits[0].source == DOCS[target]
    else:
        assert DOCS[target] not in {h.source for h in hits}


@pytest.mark.slow
def test_no_leak_over_random_users_groups_and_rules(tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.mktemp("property")
    settings = load_settings(docs_dir=root / "docs", store_dir=root / "store")
    _property_store(settings)
    retriever = factories.build_retriever(settings)

    @hsettings(max_examples=500, deadline=None, derandomize=True,
               suppress_health_check=[HealthCheck.too_slow])
    @given(rules=rules_strategy, user=user_strategy, target=st.integers(0, len(DOCS) - 1))
    def check(rules: list[tuple[str, frozenset[str]]], user: tuple[frozenset[str], bool],
              target: int) -> None:
        _check_no_leak(settings, retriever, rules, user, target)

    check()


@pytest.mark.slow
def test_no_leak_against_a_chroma_server(tmp_path: Path) -> None:
    with chroma_server(tmp_path) as port:
        settings = load_settings(docs_dir=tmp_path / "docs", store_dir=tmp_path / "store",
                                 chroma_host="127.0.0.1", chroma_port=port)
        _property_store(settings)
        reader = load_settings(store_dir=tmp_path / "other-box", chroma_host="127.0.0.1",
                               chroma_port=port)
        retriever = factories.build_retriever(reader)

        @hsettings(max_examples=500, deadline=None, derandomize=True,
                   suppress_health_check=[HealthCheck.too_slow])
        @given(rules=rules_strategy, user=user_strategy, target=st.integers(0, len(DOCS) - 1))
        def check(rules: list[tuple[str, frozenset[str]]], user: tuple[frozenset[str], bool],
                  target: int) -> None:
            _check_no_leak(reader, retriever, rules, user, target)

        check()
