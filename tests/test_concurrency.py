"""Many clients at once over HTTP: one profile per key, nothing lost, nothing torn, no 5xx."""
from __future__ import annotations

import random
import threading
from collections import defaultdict

import requests

from live_server import http, start_server

THREADS, PER_THREAD = 16, 500
KEYS = ["pk_test_partner_one", "pk_live_partner_one", "pk_test_partner_two", "pk_live_partner_two"]
EXTERNAL_IDS = [f"hot-{i}" for i in range(6)]
TEXT = {"displayName": [f"Name {i}" for i in range(5)], "device": ["mobile", "desktop", "tablet"],
        "country": ["NG", "GH", "KE", "US"], "source": ["organic", "referral"]}


def random_body(rng: random.Random, thread: int, n: int) -> dict:
    body = {"externalId": rng.choice(EXTERNAL_IDS)}
    for field, values in TEXT.items():
        if rng.random() < 0.5:
            body[field] = rng.choice(values)
    if rng.random() < 0.5:
        body["tags"] = {f"t{rng.randrange(4)}": f"{thread}-{n}"}
    return body


def test_sixteen_clients_upserting_the_same_profiles():
    server = start_server("--quiet")
    results: list[tuple[str, dict, int, dict]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)

    def client(thread: int) -> None:
        rng = random.Random(thread)
        session = requests.Session()
        mine = []
        barrier.wait()
        for n in range(PER_THREAD):
            key, body = rng.choice(KEYS), random_body(rng, thread, n)
            response = session.post(server.url + "/v1/user-journeys/users", json=body,
                                    headers={"X-API-Key": key}, timeout=60)
            mine.append((key, body, response.status_code, response.json()))
        with lock:
            results.extend(mine)

    try:
        workers = [threading.Thread(target=client, args=(t,)) for t in range(THREADS)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        stored = http("GET", server.url + "/__mock/profiles?limit=100")[2]
    finally:
        code, output = server.stop()
    assert code == 0, output

    # Every request answered, none with a 5xx (or anything but 200).
    assert len(results) == THREADS * PER_THREAD
    assert {status for _, _, status, _ in results} == {200}

    # Every answer reflects its own write: the write was applied, not lost or overwritten first.
    for _, body, _, answer in results:
        data = answer["data"]
        for field, value in body.items():
            if field == "tags":
                assert value.items() <= data["tags"].items()
            else:
                assert data[field] == value

    # One profile per (partner, environment, externalId), with a stable id and firstSeenAt.
    pairs = {(key, body["externalId"]) for key, body, _, _ in results}
    assert stored["meta"]["total"] == len(pairs) == len(KEYS) * len(EXTERNAL_IDS)
    final = {(p["partnerId"], p["environment"], p["externalId"]): p for p in stored["data"]}
    assert len(final) == len(pairs)
    identity: dict[tuple, set] = defaultdict(set)
    written: dict[tuple, dict[str, set]] = defaultdict(lambda: defaultdict(set))
    for _, body, _, answer in results:
        data = answer["data"]
        where = (data["partnerId"], data["environment"], data["externalId"])
        identity[where].add((data["id"], data["firstSeenAt"]))
        for field, value in body.items():
            if field == "tags":
                for tag, tag_value in value.items():
                    written[where][f"tags.{tag}"].add(tag_value)
            else:
                written[where][field].add(value)
    for where, profile in final.items():
        assert identity[where] == {(profile["id"], profile["firstSeenAt"])}
        for field in TEXT:
            assert profile[field] in written[where][field] or (profile[field] == "" and not written[where][field])
        assert set(profile["tags"]) == {f.split(".", 1)[1] for f in written[where] if f.startswith("tags.")}
        for tag, value in profile["tags"].items():
            assert value in written[where][f"tags.{tag}"]
    # Two partners, two environments each: four separate spaces.
    assert len({(p, e) for p, e, _ in final}) == 4
