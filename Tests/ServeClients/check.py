#!/usr/bin/env python3
"""Checks `supervisor serve` with clients nobody here wrote: the `websockets` library (PyPI) and
Python's own urllib. Each subcommand prints what it found and exits 1 with a reason on failure.

usage: check.py URL CONTROL_TOKEN READ_TOKEN PROFILE AGENT COMMAND [ARGS]
  resume N...    stream from each offset N (and "end"), collect bytes, compare with the log
  refusals       401/403 for no token, wrong token, read token acting, foreign Origin
  input TEXT     paste TEXT over the WebSocket; the ack must say ok
  profiles       print the profile names GET /api/profiles lists
  conversations  print the agent's conversation ids, then read and delete the first over HTTP
  stuck          a client that stops reading is dropped; one that reads goes on
  events         on the profile's events WebSocket, restart the agent and see its events arrive
  permission A   wait for the coder's open permission question (stream WebSocket), answer it A
                 over HTTP (refused for a read token and a bad answer), see its permission_answer
                 event, and a second answer to it refused (409)
  watch KIND     open agent's stream (KIND "stream") or the profile's events (KIND "events")
                 and hold it until killed
  hog N MB [profile]  open N streams (agent streams, or profile streams) from the log's end that
                 never read; print "filled" once the agent has written MB more (X-Log-End),
                 then hold them
  mirror SPEC... the profile stream (/api/profiles/P/stream) of the agents named AGENT:OFFSET
                 (or AGENT:end): each agent's records continue one another and equal its log,
                 across a restart of the other agent midway (whose start event must come);
                 a paste to AGENT (the command's agent) through it arrives and is acked, a
                 message naming no agent is refused, as are a read token's paste and a bad
                 query (400); start=end begins at the hello's log_end
  handoff N [profile]  N times (on the agent's stream, or the profile stream): read the events over HTTP, then stream from where that read ended
                 (events_from) while the agent writes numbered `tick` events: every tick
                 arrives exactly once across the two
"""
import asyncio
import json
import sys
import urllib.error
import urllib.request

import websockets

URL, CONTROL, READ, PROFILE, AGENT, COMMAND = sys.argv[1:7]
ARGS = sys.argv[7:]
WS = URL.replace("http://", "ws://", 1)
AGENT_PATH = f"/api/profiles/{PROFILE}/agents/{AGENT}"


def fail(why):
    print("FAIL: " + why)
    sys.exit(1)


def http(method, path, token=None, body=None, headers=None):
    request = urllib.request.Request(URL + path, method=method, data=body)
    if token:
        request.add_header("Authorization", "Bearer " + token)
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def log_from(offset, count, agent=AGENT):
    """`count` log bytes from `offset` over HTTP (several ranges when needed)."""
    out = b""
    while len(out) < count:
        path = f"/api/profiles/{PROFILE}/agents/{agent}"
        status, headers, body = http("GET", f"{path}/log?from={offset + len(out)}&max={count - len(out)}", CONTROL)
        if status != 200:
            fail(f"GET log: {status} {body!r}")
        if int(headers["X-Log-Offset"]) != offset + len(out):
            fail(f"log range starts at {headers['X-Log-Offset']}, asked {offset + len(out)}")
        if not body:
            break
        out += body
    return out


async def stream(offset, want):
    """Output from `offset` until `want` bytes came; checks every frame continues the last."""
    url = f"{WS}{AGENT_PATH}/stream?from={offset}"
    got = b""
    async with websockets.connect(url, additional_headers={"Authorization": "Bearer " + READ}, max_size=None) as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if hello.get("type") != "hello" or hello.get("from") != offset:
            fail(f"first message is not the hello for {offset}: {hello}")
        while len(got) < want:
            message = await asyncio.wait_for(ws.recv(), 20)
            if isinstance(message, str):
                kind = json.loads(message).get("type")
                if kind == "gap":
                    fail(f"unexpected gap: {message}")
                continue
            at = int.from_bytes(message[:8], "big")
            if at != offset + len(got):
                fail(f"frame at {at}, expected {offset + len(got)} (gap or overlap)")
            got += message[8:]
    return got


async def resume(offsets):
    status, headers, _ = http("GET", f"{AGENT_PATH}/log?from=0&max=0", CONTROL)
    end = int(headers["X-Log-End"])
    for spec in offsets:
        offset = end if spec == "end" else int(spec)
        want = 300000  # crosses from the log's replay into live output
        got = await stream(offset, want)
        expected = log_from(offset, len(got))
        if got != expected:
            fail(f"from {offset}: {len(got)} streamed bytes differ from the log's")
        print(f"from {offset}: {len(got)} bytes, identical to the log")


def records(message):
    """A profile stream message's records: (agent number, offset, bytes)."""
    out, at = [], 0
    while at < len(message):
        if len(message) - at < 14:
            fail(f"a record header cut short: {len(message) - at} bytes")
        agent, offset, length = int.from_bytes(message[at:at + 2], "big"), int.from_bytes(message[at + 2:at + 10], "big"), \
            int.from_bytes(message[at + 10:at + 14], "big")
        if len(message) - at - 14 < length:
            fail("a record's bytes cut short")
        out.append((agent, offset, message[at + 14:at + 14 + length]))
        at += 14 + length
    return out


async def mirror(specs):
    starts = {}
    for spec in specs:
        name, at = spec.split(":")
        if at == "end":
            _, headers, _ = http("GET", f"/api/profiles/{PROFILE}/agents/{name}/log?from=0&max=0", CONTROL)
            at = headers["X-Log-End"]
        starts[name] = int(at)
    base = f"{WS}/api/profiles/{PROFILE}/stream"
    query = "agents=" + ",".join(starts) + "&from=" + ",".join(f"{n}:{o}" for n, o in starts.items())
    auth = {"Authorization": "Bearer " + CONTROL}
    got = {name: b"" for name in starts}
    want = 200000  # for the agents other than AGENT: crosses from replay into live output
    async with websockets.connect(f"{base}?{query}", additional_headers=auth, max_size=None) as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
        listed = {a["agent"]: a for a in hello.get("agents", [])}
        if hello.get("type") != "hello" or hello.get("v") != 1 or set(listed) != set(starts) \
                or any(listed[n]["from"] != o for n, o in starts.items()):
            fail(f"the hello does not list the agents from their starts: {hello}")
        names = {a["index"]: name for name, a in listed.items()}
        await ws.send(json.dumps({"type": "paste", "agent": AGENT, "text": "mirror-marker\n", "id": 1}))
        await ws.send(json.dumps({"type": "paste", "text": "no-agent", "id": 2}))
        acked = refused = started = False
        restarted = None  # the other agent, restarted midway: its output goes on, its events come
        while not (acked and refused and started and b"mirror-marker" in got[AGENT]
                   and all(len(got[n]) >= want for n in got if n != AGENT)):
            message = await asyncio.wait_for(ws.recv(), 20)
            if isinstance(message, str):
                parsed = json.loads(message)
                if parsed["type"] == "gap":
                    fail(f"unexpected gap: {message}")
                if parsed["type"] == "ack" and parsed["id"] == 1:
                    if not parsed["ok"]:
                        fail(f"paste through the profile stream refused: {parsed}")
                    acked = True
                if parsed["type"] == "error":
                    refused = True
                if parsed["type"] == "event" and parsed.get("agent") == restarted and parsed["event"].get("type") == "start":
                    started = True
                continue
            for number, offset, data in records(message):
                name = names.get(number)
                if name is None:
                    fail(f"a record of agent {number}, which the stream did not ask for")
                if offset != starts[name] + len(got[name]):
                    fail(f"{name}: record at {offset}, expected {starts[name] + len(got[name])} (gap or overlap)")
                got[name] += data
                if restarted is None and name != AGENT and len(got[name]) >= want // 2:
                    status, _, body = http("POST", f"/api/profiles/{PROFILE}/agents/{name}/restart", CONTROL, b"")
                    if status != 200:
                        fail(f"restart {name}: {status} {body!r}")
                    restarted = name
    for name, data in got.items():
        if data != log_from(starts[name], len(data), agent=name):
            fail(f"{name} from {starts[name]}: {len(data)} streamed bytes differ from the log's")
        print(f"{name} from {starts[name]}: {len(data)} bytes, identical to the log")
    print(f"pasted through the profile stream; a message naming no agent refused; {restarted} restarted midway, its start event came")
    # Live only: the stream starts where the log ends.
    async with websockets.connect(f"{base}?agents={AGENT}&start=end", additional_headers=auth) as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if hello["agents"][0]["from"] != hello["agents"][0]["log_end"]:
            fail(f"start=end did not start at the log's end: {hello}")
    async with websockets.connect(f"{base}?agents={AGENT}", additional_headers={"Authorization": "Bearer " + READ}) as ws:
        await ws.send(json.dumps({"type": "paste", "agent": AGENT, "text": "refused-marker", "id": 3}))
        while True:
            message = await asyncio.wait_for(ws.recv(), 10)
            if isinstance(message, str) and json.loads(message).get("type") == "ack":
                if json.loads(message)["ok"]:
                    fail("a read token's paste through the profile stream was not refused")
                break
    print("start=end begins at log_end; a read token's paste refused")
    try:
        async with websockets.connect(f"{base}?agents=nobody", additional_headers=auth):
            fail("a stream of an agent the profile does not have was accepted")
    except websockets.exceptions.InvalidStatus as error:
        if error.response.status_code != 400 or b"no agent nobody" not in error.response.body:
            fail(f"bad query: {error.response.status_code} {error.response.body!r}, expected 400 naming the agent")
        print("bad query: 400")


async def refusals():
    cases = [
        ("GET", "/api/profiles", None, {}, 401),
        ("GET", "/api/profiles", "0" * 64, {}, 401),
        ("POST", f"{AGENT_PATH}/paste", READ, {}, 403),
        ("POST", f"{AGENT_PATH}/restart", READ, {}, 403),
        ("POST", f"{AGENT_PATH}/paste", CONTROL, {"Origin": "http://evil.example"}, 403),
        ("GET", "/api/profiles", READ, {}, 200),
    ]
    for method, path, token, headers, expected in cases:
        status, _, body = http(method, path, token, b"refused-marker" if method == "POST" else None, headers)
        if status != expected:
            fail(f"{method} {path} token={'yes' if token else 'no'} {headers}: {status}, expected {expected}: {body!r}")
        print(f"{method} {path}: {status}")
    url = f"{WS}{AGENT_PATH}/stream"
    for headers, origin, expected in [({}, None, 401), ({"Authorization": "Bearer " + "1" * 64}, None, 401),
                                      ({"Authorization": "Bearer " + CONTROL}, "http://evil.example", 403)]:
        try:
            async with websockets.connect(url, additional_headers=headers, origin=origin):
                fail(f"WebSocket upgrade with {headers.keys()} origin {origin} was accepted")
        except websockets.exceptions.InvalidStatus as error:
            if error.response.status_code != expected:
                fail(f"WebSocket refusal {error.response.status_code}, expected {expected}")
            print(f"WebSocket origin={origin}: {error.response.status_code}")
    # A read token's stream may watch, not type.
    async with websockets.connect(url + "?from=0", additional_headers={"Authorization": "Bearer " + READ}) as ws:
        await ws.send(json.dumps({"type": "paste", "text": "refused-marker", "id": 7}))
        while True:
            message = await asyncio.wait_for(ws.recv(), 10)
            if isinstance(message, str) and json.loads(message).get("type") == "ack":
                ack = json.loads(message)
                if ack["ok"] or ack["id"] != 7:
                    fail(f"a read token's paste was not refused: {ack}")
                print("read token's paste over WebSocket: refused")
                break


async def send_input(text):
    url = f"{WS}{AGENT_PATH}/stream?from=0"
    origin = URL  # a browser on the server's own page sends its own origin: allowed
    async with websockets.connect(url, additional_headers={"Authorization": "Bearer " + CONTROL}, origin=origin) as ws:
        await ws.send(json.dumps({"type": "paste", "text": text, "id": 1}))
        while True:
            message = await asyncio.wait_for(ws.recv(), 10)
            if isinstance(message, str):
                parsed = json.loads(message)
                if parsed.get("type") == "ack":
                    if not parsed["ok"]:
                        fail(f"paste refused: {parsed}")
                    print("pasted")
                    return


def open_questions():
    """Ids of the permission questions the events file holds unanswered."""
    status, _, body = http("GET", f"{AGENT_PATH}/events?from=0", READ)
    if status != 200:
        fail(f"GET events: {status} {body!r}")
    questions = {}
    for event in json.loads(body)["events"]:
        if event.get("type") == "permission":
            questions[event["id"]] = event
        elif event.get("type") == "permission_answer":
            questions.pop(event["id"], None)
        elif event.get("type") in ("start", "exit"):
            questions.clear()
    return questions


async def permission(answer):
    url = f"{WS}{AGENT_PATH}/stream?from=0&output=0"
    async with websockets.connect(url, additional_headers={"Authorization": "Bearer " + READ}) as ws:
        # Subscribed first, so a question asked from now on arrives here; one asked before is in the file.
        questions = open_questions()
        while not questions:
            message = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if message.get("type") == "event" and message["event"].get("type") == "permission":
                questions = {message["event"]["id"]: message["event"]}
        question = next(iter(questions.values()))
        print(f"question {question['id']}: {question['tool']}({question['summary']}) choices {question['choices']}")
        path = f"{AGENT_PATH}/permission/{question['id']}"
        for token, body, expected in [(READ, answer, 403), (CONTROL, "perhaps", 400)]:
            status, _, text = http("POST", path, token, json.dumps({"answer": body}).encode())
            if status != expected:
                fail(f"answer {body} with {'read' if token == READ else 'control'} token: {status}, expected {expected}: {text!r}")
        status, _, text = http("POST", path, CONTROL, json.dumps({"answer": answer}).encode())
        if status != 200:
            fail(f"answer {answer}: {status} {text!r}")
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), 30))
            event = message.get("event", {}) if message.get("type") == "event" else {}
            if event.get("type") == "permission_answer" and event["id"] == question["id"]:
                if event["answer"] != answer:
                    fail(f"answered {answer}, the coder took {event['answer']}")
                break
        status, _, text = http("POST", path, CONTROL, json.dumps({"answer": answer}).encode())
        if status != 409:
            fail(f"a second answer to {question['id']}: {status}, expected 409: {text!r}")
        print(f"answered {question['id']} {answer}")


def profiles():
    status, _, body = http("GET", "/api/profiles", READ)
    if status != 200:
        fail(f"GET /api/profiles: {status}")
    print(" ".join(sorted({row["profile"] for row in json.loads(body)})))


async def events():
    url = f"{WS}/api/profiles/{PROFILE}/events?replay=5"
    async with websockets.connect(url, additional_headers={"Authorization": "Bearer " + READ}) as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if hello.get("type") != "hello":
            fail(f"no hello: {hello}")
        # The replay: the agent's first start, already in its events file.
        first = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if first.get("type") != "event" or first["agent"] != AGENT:
            fail(f"no replayed event first: {first}")
        print("replayed: " + first["event"]["type"])
        status, _, body = http("POST", f"{AGENT_PATH}/restart", CONTROL, b"")
        if status != 200:
            fail(f"restart: {status} {body!r}")
        seen = []
        while "start" not in seen:
            message = json.loads(await asyncio.wait_for(ws.recv(), 20))
            if message.get("type") == "event" and message.get("agent") == AGENT:
                seen.append(message["event"]["type"])
        print("events: " + " ".join(seen))


def conversations():
    status, _, body = http("GET", f"{AGENT_PATH}/conversations", READ)
    if status != 200:
        fail(f"list: {status} {body!r}")
    ids = [row["id"] for row in json.loads(body)]
    print("conversations: " + " ".join(ids))
    if not ids:
        return
    status, _, body = http("GET", f"{AGENT_PATH}/conversations/{ids[0]}", READ)
    if status != 200 or ids[0] not in body.decode():
        fail(f"read: {status}")
    print("read: " + body.decode()[:20000].replace("\n", " "))
    if http("DELETE", f"{AGENT_PATH}/conversations/{ids[0]}", READ)[0] != 403:
        fail("a read token deleted a conversation")
    status, _, body = http("DELETE", f"{AGENT_PATH}/conversations/{ids[0]}", CONTROL)
    if status != 200:
        fail(f"delete: {status} {body!r}")
    status, _, _ = http("GET", f"{AGENT_PATH}/conversations/{ids[0]}", READ)
    if status != 404:
        fail(f"deleted conversation still readable: {status}")
    print("deleted " + ids[0])


async def stuck():
    headers = {"Authorization": "Bearer " + READ}
    url = f"{WS}{AGENT_PATH}/stream?from=0"
    async with websockets.connect(url, additional_headers=headers, max_size=None, max_queue=1) as idle, \
            websockets.connect(url, additional_headers=headers, max_size=None) as reader:
        got = 0
        loop = asyncio.get_running_loop()
        until = loop.time() + 8  # the stuck one reads nothing meanwhile
        while loop.time() < until:
            message = await asyncio.wait_for(reader.recv(), 10)
            got += len(message)
        print(f"the reading client got {got} bytes")
        drained = 0
        try:
            until = loop.time() + 15
            while loop.time() < until:
                drained += len(await asyncio.wait_for(idle.recv(), 5))
            fail(f"the stuck client was not dropped ({drained} bytes after it woke)")
        except websockets.exceptions.ConnectionClosed:
            print(f"the stuck client was dropped ({drained} bytes were buffered)")


async def handoff(rounds, shape="agent"):
    """What `supervisor client` does (history over HTTP, then the stream): no event is lost or
    doubled between the two, however fast the agent writes them. On the agent's stream, or on
    the profile stream (`events_from=AGENT:BYTE`)."""
    for round_ in range(rounds):
        status, headers, body = http("GET", f"{AGENT_PATH}/events?from=0", CONTROL)
        if status != 200:
            fail(f"GET events: {status} {body!r}")
        answer = json.loads(body)
        ticks = [e["n"] for e in answer["events"] if e.get("type") == "tick"]
        if not ticks:
            fail("no tick events yet")
        target = ticks[-1] + 30
        url = f"{WS}{AGENT_PATH}/stream?output=0&events_from={answer['next']}" if shape == "agent" else \
            f"{WS}/api/profiles/{PROFILE}/stream?agents={AGENT}&start=end&events_from={AGENT}:{answer['next']}"
        async with websockets.connect(url, additional_headers={"Authorization": "Bearer " + CONTROL}, max_size=None) as ws:
            # Read until well past where the HTTP answer ended.
            while ticks[-1] < target:
                received = await asyncio.wait_for(ws.recv(), 10)
                if not isinstance(received, str):
                    continue  # output records
                message = json.loads(received)
                if message.get("type") == "event" and message["event"].get("type") == "tick":
                    if message.get("at") is None or message["at"] < answer["next"]:
                        fail(f"an event from before events_from={answer['next']}: {message}")
                    ticks.append(message["event"]["n"])
        start = ticks[0]
        if ticks != list(range(start, start + len(ticks))):
            missing = sorted(set(range(start, ticks[-1] + 1)) - set(ticks))
            doubled = sorted({t for t in ticks if ticks.count(t) > 1})
            fail(f"round {round_}: ticks not each exactly once: missing {missing[:10]}, doubled {doubled[:10]}")
    print(f"{rounds} hand-offs ({shape} stream): every tick exactly once")


async def watch(kind):
    path = f"{AGENT_PATH}/stream" if kind == "stream" else f"/api/profiles/{PROFILE}/events"
    async with websockets.connect(WS + path, additional_headers={"Authorization": "Bearer " + CONTROL}) as ws:
        print(json.loads(await asyncio.wait_for(ws.recv(), 10))["type"], flush=True)
        async for _ in ws:
            pass


async def hog(count, megabytes, shape="agent"):
    status, headers, _ = http("GET", f"{AGENT_PATH}/log?from=0&max=0", CONTROL)
    end = headers["X-Log-End"]
    url = f"{WS}{AGENT_PATH}/stream?from={end}" if shape == "agent" else f"{WS}/api/profiles/{PROFILE}/stream?from={AGENT}:{end}"
    sockets = [await websockets.connect(url, max_queue=1, max_size=None,
                                        additional_headers={"Authorization": "Bearer " + CONTROL}) for _ in range(count)]
    while True:
        _, headers, _ = http("GET", f"{AGENT_PATH}/log?from=0&max=0", CONTROL)
        if int(headers["X-Log-End"]) > int(end) + megabytes * 1000000:
            break
        await asyncio.sleep(0.1)
    print("filled", flush=True)
    await asyncio.sleep(3600)


if COMMAND == "hog":
    asyncio.run(hog(int(ARGS[0]), int(ARGS[1]), *ARGS[2:3]))
elif COMMAND == "watch":
    asyncio.run(watch(ARGS[0]))
elif COMMAND == "handoff":
    asyncio.run(handoff(int(ARGS[0]), *ARGS[1:2]))
elif COMMAND == "stuck":
    asyncio.run(stuck())
elif COMMAND == "conversations":
    conversations()
elif COMMAND == "profiles":
    profiles()
elif COMMAND == "events":
    asyncio.run(events())
elif COMMAND == "mirror":
    asyncio.run(mirror(ARGS))
elif COMMAND == "resume":
    asyncio.run(resume(ARGS))
elif COMMAND == "refusals":
    asyncio.run(refusals())
elif COMMAND == "permission":
    asyncio.run(permission(ARGS[0]))
elif COMMAND == "input":
    asyncio.run(send_input(ARGS[0]))
else:
    fail("unknown command " + COMMAND)
