"""schemathesis hooks for `.ci/contract`: where what a request means depends
on what the server holds, the fuzzer is told, each case scoped to one
parameter or member and leaving valid what it found valid and invalid what
it found invalid. No check is switched off here; `schemathesis.toml` scopes
the rest, each with its reason.
"""

import itertools
import json
import os
import re
import urllib.request

import schemathesis

def _members(value):
    """(owner, name or index, member) for every member of an object and
    every item of a list in a JSON value, at any depth."""
    if isinstance(value, dict):
        places = list(value.items())
    elif isinstance(value, list):
        places = list(enumerate(value))
    else:
        return
    for place, member in places:
        yield value, place, member
        yield from _members(member)


# Outlets are named by slug and must exist: a well-formed slug naming no
# outlet is rightly a 422 ("names no outlet"), which no schema can state.
# Well-formed slugs are swapped for outlets the server holds at the time
# (the fuzzer renames and adds outlets as it goes); malformed ones are left
# for the negative checks.
SLUG = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
PICKS = itertools.count()


def _cite_stored_outlets(body):
    stored = None
    for owner, name, member in _members(body):
        if name == "outlet" and isinstance(member, str) and SLUG.match(member) and len(member) <= 100:
            if stored is None:
                url = os.environ["BROADSHEET_URL"] + "/v1/outlets?limit=100&fields=slug"
                with urllib.request.urlopen(url, timeout=5) as response:
                    stored = [outlet["slug"] for outlet in json.load(response)["data"]]
            owner[name] = stored[next(PICKS) % len(stored)]


# Timestamps are stored in the years 1 to 9999 in UTC, as the schemas say in
# words: an offset can carry the first or the last day past that range
# (`9999-12-31T23:00:00-05:00` is in year 10000), which no format or pattern
# can state without lookarounds. Such a timestamp gets `Z` for its offset,
# which keeps it well-formed and in range; malformed ones do not match.
EDGE_DAY = re.compile(r"^(0001-01-01|9999-12-31)(T\d\d:\d\d:\d\d(?:\.\d+)?)[+-]\d\d:\d\d$")


def _keep_timestamps_in_range(value):
    for owner, name, member in _members(value):
        if isinstance(member, str):
            owner[name] = EDGE_DAY.sub(r"\1\2Z", member)


# A new excerpt, roundup or link may go at most one past the last of its
# siblings, a count only the server knows: a valid position is moved to 1,
# which is always in range; one below 1 is left for the negative checks.
def _position_in_range(body):
    position = body.get("position") if isinstance(body, dict) else None
    whole = isinstance(position, (int, float)) and not isinstance(position, bool) and float(position).is_integer()
    if whole and position >= 1:
        body["position"] = 1


# An `Idempotency-Key` replayed with another body is rightly a 422 ("was
# already used for a different request"), and generated keys repeat ("0").
# A valid key gets a suffix that keeps it valid and makes it this case's own.
KEY = re.compile(r"^[!-~]{1,255}$")
SUFFIXES = itertools.count()


def _own_idempotency_key(headers):
    key = (headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and KEY.match(key):
        suffix = f"-{next(SUFFIXES)}"
        headers["Idempotency-Key"] = key[: 255 - len(suffix)] + suffix


# On the request as sent, so that every phase (examples, coverage, fuzzing,
# stateful) is told, not only what Hypothesis draws.
@schemathesis.hook
def before_call(ctx, case, kwargs):
    _cite_stored_outlets(case.body)
    _keep_timestamps_in_range(case.body)
    _keep_timestamps_in_range(case.query)
    _position_in_range(case.body)
    _own_idempotency_key(case.headers)


# `fields=` keeps only the members it names, by design, so a sparse answer
# lacks members the response schemas (which describe whole representations)
# require: response conformance cannot apply to it. The fuzzer leaves the
# parameter out; tests/api/openapi.rs holds every operation's `fields` to the
# members its schema lists, and a name it lacks to a 400.
@schemathesis.hook
def before_load_schema(ctx, raw_schema):
    for item in raw_schema.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict) and "parameters" in operation:
                operation["parameters"] = [
                    parameter
                    for parameter in operation["parameters"]
                    if not (parameter.get("in") == "query" and parameter.get("name") == "fields")
                ]
