"""The HTTP API through FastAPI's TestClient: answers, sessions, streaming, limits, pinned errors."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from rnnkit.server.app import create_app
from rnnkit.server.schemas import Limits
from rnnkit.tasks.language_model import LanguageModel
from rnnkit.tasks.sentiment.api import MAX_TEXT_CHARS

pytestmark = pytest.mark.xdist_group("server")  # one worker builds the tiny runs once
JSON = {"content-type": "application/json"}


def ndjson(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def app_with(app, **limits) -> TestClient:
    """A second app over the same loaded runs, with other limits."""
    return TestClient(create_app(app.state.registry, Limits(**limits)))


# ------------------------------------------------------------------------ general
def test_health_lists_the_runs_and_their_tasks(client):
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert {r["name"]: r["task"] for r in body["runs"]} == {"sent": "sentiment", "lm": "lm", "fc": "forecast"}
    fc = next(r for r in body["runs"] if r["task"] == "forecast")
    assert fc["details"]["horizon"] == 7 and fc["details"]["level"] == 0.8


def test_openapi_schema_lists_every_endpoint(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/health", "/api/runs", "/api/sentiment", "/api/sentiment/batch", "/api/suggest"):
        assert path in paths
    assert "application/x-ndjson" in paths["/api/generate"]["post"]["responses"]["200"]["content"]
    assert "413" in paths["/api/forecast"]["post"]["responses"]


def test_the_page_and_its_assets_are_served(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    tasks = client.get("/api/tasks").json()
    assert [(t["name"], t["page"], t["runs"]) for t in tasks] == [
        ("sentiment", "sentiment.js", ["sent"]),
        ("lm", "lm.js", ["lm"]),
        ("forecast", "forecast.js", ["fc"]),
    ]
    # Each task's panel comes from its tab script, which the page loads for the loaded tasks.
    scripts = {t["page"]: client.get(f"/static/tasks/{t['page']}") for t in tasks}
    assert all(r.status_code == 200 for r in scripts.values())
    for page_file, element in (
        ("lm.js", 'id="keyboard"'),
        ("sentiment.js", 'id="review"'),
        ("lm.js", 'id="generate"'),
        ("forecast.js", 'id="chart"'),
    ):
        assert element in scripts[page_file].text
    for asset in ("/static/app.js", "/static/style.css"):
        assert client.get(asset).status_code == 200
    # No external resources: the page must work with no internet.
    everything = page.text + client.get("/static/app.js").text + "".join(r.text for r in scripts.values())
    assert "http://" not in everything.replace("http://www.w3.org", "")
    assert "https://" not in everything


# ---------------------------------------------------------------------- sentiment
def test_sentiment_label_and_probabilities(client):
    body = client.post("/api/sentiment", json={"text": "the movie was great wonderful and fantastic"}).json()
    assert body["run"] == "sent"
    assert set(body["probabilities"]) == {"negative", "positive"}
    assert sum(body["probabilities"].values()) == pytest.approx(1.0)
    assert body["label"] == max(body["probabilities"], key=body["probabilities"].get)
    assert body["known_words"] is True


def test_sentiment_of_unknown_words_answers_and_flags_it(client):
    body = client.post("/api/sentiment", json={"text": "zzz qqq"})
    assert body.status_code == 200, body.text
    assert body.json()["known_words"] is False and body.json()["label"] in ("negative", "positive")


def test_batch_sentiment_equals_one_by_one(client):
    texts = ["the movie was awful and dull", "the movie was great", "loved it, wonderful"]
    batch = client.post("/api/sentiment/batch", json={"texts": texts}).json()["predictions"]
    for text, got in zip(texts, batch, strict=True):
        one = client.post("/api/sentiment", json={"text": text}).json()
        assert got["label"] == one["label"]
        for k, v in one["probabilities"].items():
            assert got["probabilities"][k] == pytest.approx(v, abs=1e-6)


# -------------------------------------------------------------------- suggestions
def test_partial_word_is_completed(client):
    body = client.post("/api/suggest", json={"text": "I love dee", "top_k": 3}).json()
    assert body["partial"] == "dee"
    assert body["suggestions"] and all(s["word"].startswith("dee") for s in body["suggestions"])
    assert body["suggestions"][0]["word"] == "deep"  # the tiny corpus says "love deep" 40 times


def test_session_keystrokes_cost_at_most_one_step_and_match_a_fresh_session(client):
    typed = "i love deep learning . we love"
    session = None
    for i in range(1, len(typed) + 1):
        body = client.post("/api/suggest", json={"text": typed[:i], "session": session}).json()
        if session is not None:
            assert body["session"] == session  # the same state, carried
        session = body["session"]
        assert body["steps"] <= 1, typed[:i]
    fresh = client.post("/api/suggest", json={"text": typed}).json()
    assert fresh["session"] != session
    assert fresh["suggestions"] == body["suggestions"]


def test_backspace_rewinds_without_rerunning_the_prefix(client):
    sid = client.post("/api/suggest", json={"text": "i love deep learning "}).json()["session"]
    back = client.post("/api/suggest", json={"text": "i love deep ", "session": sid}).json()
    assert back["steps"] == 0  # a rewind to a kept snapshot costs no step
    fresh = client.post("/api/suggest", json={"text": "i love deep "}).json()
    assert back["suggestions"] == fresh["suggestions"]


def test_sessions_are_bounded_by_count_and_age(app):
    with app_with(app, max_sessions=2) as c:
        first = c.post("/api/suggest", json={"text": "i"}).json()["session"]
        for _ in range(2):
            c.post("/api/suggest", json={"text": "we"})
        assert c.get("/health").json()["sessions"] == 2
        again = c.post("/api/suggest", json={"text": "i love ", "session": first}).json()
        assert again["session"] != first  # evicted (least recently used): a new session, no error
        assert again["steps"] == 2  # "i love " replayed once (two words)
    with app_with(app, session_ttl_s=1e-9) as c:
        sid = c.post("/api/suggest", json={"text": "i"}).json()["session"]
        time.sleep(0.01)
        assert c.post("/api/suggest", json={"text": "i love", "session": sid}).json()["session"] != sid


def test_an_unknown_session_id_starts_a_new_session(client):
    body = client.post("/api/suggest", json={"text": "i love", "session": "made-up-id"}).json()
    assert body["session"] != "made-up-id" and body["suggestions"]


# --------------------------------------------------------------------- generation
def test_generation_streams_one_token_per_line_and_matches_the_task_api(client, run_dirs):
    req = {"prompt": "i love", "length": 12, "temperature": 0.8, "top_k": 5, "top_p": 0.9, "seed": 3}
    res = client.post("/api/generate", json=req)
    assert res.status_code == 200 and res.headers["content-type"].startswith("application/x-ndjson")
    lines = ndjson(res.text)
    assert lines[-1] == {"done": True, "tokens": 12, "stopped": "length"}
    text = "".join(line["token"] for line in lines[:-1])
    lm = LanguageModel.load(run_dirs["lm"])
    assert text == lm.generate("i love", 12, 0.8, 5, 0.9, seed=3)
    assert client.post("/api/generate", json=req).text == res.text  # seeded: reproducible


def test_temperature_zero_generates_greedily(client, run_dirs):
    res = client.post("/api/generate", json={"prompt": "i love", "length": 6, "temperature": 0})
    assert res.status_code == 200, res.text
    text = "".join(line["token"] for line in ndjson(res.text)[:-1])
    assert text == LanguageModel.load(run_dirs["lm"]).generate("i love", 6, temperature=0)


def test_concurrent_generations_are_limited(app):
    with app_with(app, max_generations=1) as c:
        held = c.app.state.generation_slots.take()  # one generation "running"
        res = c.post("/api/generate", json={"length": 3})
        assert res.status_code == 429
        assert res.json()["error"] == "1 generations are already running: retry in a moment."
        held.release()
        assert c.post("/api/generate", json={"length": 3}).status_code == 200
        assert c.app.state.generation_slots.used == 0  # the finished stream gave its slot back


def test_generation_stops_at_its_time_limit(app):
    with app_with(app, generation_timeout_s=0.0) as c:
        lines = ndjson(c.post("/api/generate", json={"length": 50}).text)
    assert lines[-1] == {"done": True, "tokens": 1, "stopped": "timeout"}


# ----------------------------------------------------------------------- forecast
def test_forecast_after_the_runs_data(client):
    body = client.post("/api/forecast", json={"history": 30}).json()
    assert len(body["point"]) == len(body["dates"]) == 7
    assert len(body["history"]) == len(body["history_dates"]) == 30
    for lo, p, hi in zip(body["lower"], body["point"], body["upper"], strict=True):
        assert lo <= p <= hi
    assert body["dates"][0] > body["history_dates"][-1]


def test_forecast_from_given_values_and_dates(client):
    values = [20 + (i % 7) for i in range(40)]
    dates = [f"2024-02-{d:02d}" for d in range(1, 30)] + [f"2024-03-{d:02d}" for d in range(1, 12)]
    body = client.post("/api/forecast", json={"values": values, "dates": dates, "history": 10}).json()
    assert body["history"] == values[-10:]
    assert body["history_dates"][-1].startswith("2024-03-11")
    assert body["dates"][0].startswith("2024-03-12")
    assert body["warnings"] == []


def test_forecast_values_need_dates_and_far_off_values_are_flagged(client):
    res = client.post("/api/forecast", json={"values": [1.0] * 40})
    assert res.status_code == 400
    assert res.json()["error"].startswith("values need their dates (one ISO date per value")
    dates = [f"2024-02-{d:02d}" for d in range(1, 30)] + [f"2024-03-{d:02d}" for d in range(1, 12)]
    far = client.post("/api/forecast", json={"values": [1e6] * 40, "dates": dates}).json()
    assert len(far["warnings"]) == 1 and "far outside the training data" in far["warnings"][0]


# ------------------------------------------------------------------- bad requests
BAD = [
    # (path, raw body, status, the error message)
    ("/api/sentiment", b"", 422, "the request body is empty: send a JSON object."),
    ("/api/sentiment", b"{not json", 422, "the request body is not valid JSON."),
    ("/api/sentiment", b'{"text": 5}', 422, "text: Input should be a valid string."),
    ("/api/sentiment", b'{"text": ""}', 422, "text: String should have at least 1 character."),
    ("/api/sentiment", b'{"text": "hi", "colour": 1}', 422, "colour: Extra inputs are not permitted."),
    (
        "/api/sentiment",
        json.dumps({"text": "a" * (MAX_TEXT_CHARS + 1)}).encode(),
        422,
        f"text: String should have at most {MAX_TEXT_CHARS} characters.",
    ),
    (
        "/api/sentiment",
        b'{"text": "great", "run": "nope"}',
        404,
        "run 'nope' is not loaded: the loaded runs are 'sent', 'lm', 'fc'.",
    ),
    (
        "/api/sentiment",
        b'{"text": "great", "run": "lm"}',
        400,
        "run 'lm' holds task 'lm': this endpoint needs a 'sentiment' run.",
    ),
    (
        "/api/sentiment/batch",
        b'{"texts": []}',
        422,
        "texts: List should have at least 1 item after validation, not 0.",
    ),
    ("/api/generate", b'{"length": -5}', 422, "length: Input should be greater than or equal to 1."),
    ("/api/generate", b'{"length": "10"}', 422, "length: Input should be a valid integer."),
    (
        "/api/generate",
        b'{"temperature": 0.001}',
        422,
        "temperature: Value error, temperature must be 0 (greedy) or at least 0.01.",
    ),
    ("/api/generate", b'{"length": 100000}', 422, "length: Input should be less than or equal to 1000."),
    ("/api/suggest", b'{"text": "i", "top_k": 0}', 422, "top_k: Input should be greater than or equal to 1."),
    (
        "/api/suggest",
        b'{"text": "i", "session": "../../etc"}',
        422,
        "session: String should match pattern '^[A-Za-z0-9_-]{1,64}$'.",
    ),
    ("/api/forecast", b'{"values": [1, NaN, 3]}', 422, "values.1: Input should be a finite number."),
    (
        "/api/forecast",
        b'{"values": [1, 2, 3], "dates": ["2024-01-01", "2024-01-02", "2024-01-03"]}',
        400,
        "the series has 3 rows: a forecast reads the last lookback=14, so it needs at least 14.",
    ),
    (
        "/api/forecast",
        b'{"values": [1, 2], "dates": ["2024-01-01"]}',
        400,
        "dates has 1 entries but values has 2: give one date per value.",
    ),
    (
        "/api/forecast",
        b'{"values": [1, 2], "dates": ["2024-01-02", "2024-01-01"]}',
        400,
        "dates must be strictly increasing.",
    ),
]


@pytest.mark.parametrize(
    ("path", "body", "status", "message"), BAD, ids=[f"{p}:{m[:30]}" for p, _, _, m in BAD]
)
def test_bad_requests_get_a_4xx_with_a_message_and_the_server_keeps_serving(
    client, path, body, status, message
):
    res = client.post(path, content=body, headers=JSON)
    assert res.status_code == status, res.text
    assert res.json()["error"] == message
    assert client.get("/health").status_code == 200


def test_bodies_over_the_limit_are_refused_declared_or_chunked(app):
    with app_with(app, max_body_bytes=1000) as c:
        big = json.dumps({"text": "great " * 400}).encode()
        res = c.post("/api/sentiment", content=big, headers=JSON)
        assert res.status_code == 413
        assert res.json()["error"] == "the request body is over the limit of 1000 bytes."
        # No Content-Length (chunked): counted while read, refused at the limit.
        res = c.post("/api/sentiment", content=iter([big[:600], big[600:]]), headers=JSON)
        assert res.status_code == 413
        ok = c.post("/api/sentiment", content=iter([b'{"text": ', b'"great"}']), headers=JSON)
        assert ok.status_code == 200, ok.text


def test_a_request_past_its_timeout_gets_504_and_the_server_recovers(app, client, monkeypatch):
    run = app.state.registry.runs["sent"]
    real = run.model.predict

    def slow(texts):
        time.sleep(0.3)
        return real(texts)

    monkeypatch.setattr(run.model, "predict", slow)
    with app_with(app, request_timeout_s=0.05) as c:
        res = c.post("/api/sentiment", json={"text": "great"})
        assert res.status_code == 504
        assert res.json()["error"] == "the request took longer than 0.05 s and was abandoned."
        monkeypatch.setattr(run.model, "predict", real)
    # The default app (10 s timeout) waits for the abandoned call to free the run's lock.
    assert client.post("/api/sentiment", json={"text": "great"}).status_code == 200


def test_an_int8_registry_serves_the_same_top_suggestion(client, run_dirs):
    from rnnkit.server.registry import Registry

    q = TestClient(create_app(Registry.load([run_dirs["lm"]], int8=True)))
    lm_run = next(r for r in q.get("/health").json()["runs"] if r["task"] == "lm")
    assert lm_run["details"]["int8"]
    body = {"text": "i love dee", "top_k": 1}
    got = q.post("/api/suggest", json=body).json()
    want = client.post("/api/suggest", json={**body, "run": "lm"}).json()
    assert [s["word"] for s in got["suggestions"]] == [s["word"] for s in want["suggestions"]]
