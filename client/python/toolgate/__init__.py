# SPDX-License-Identifier: Apache-2.0
"""toolgate: call tools through a toolgate broker, from Python.

Pure Python over the C client library (libtoolgate.so) with ctypes; nothing
to install from PyPI. Inside a `toolgate run` jail both are provided
(PYTHONPATH and the library are set up by the broker).

    import toolgate
    r = toolgate.call("python", code="print(6*7)")
    print(r.stdout, r.exit_code, r.usage)
    for t in toolgate.tools():
        print(t["name"], t["inputSchema"])

A denied call raises Denied; a rate-limited one RateLimited (with
retry_after_ms); an unreachable broker BrokerUnavailable. Calls that ran
return a Result whatever the tool's exit code; TIMEOUT, OOM and OUTPUT_LIMIT
return a Result too, with .status saying so (check .ok).
"""

import ctypes
import ctypes.util
import json
import os

__all__ = [
    "call", "tools", "Client", "Result", "Usage",
    "ToolgateError", "Denied", "RateLimited", "InvalidRequest",
    "BrokerUnavailable", "BrokerError",
]

STATUS = {
    1: "OK", 2: "DENIED", 3: "INVALID", 4: "RATE_LIMITED", 5: "TIMEOUT",
    6: "OOM", 7: "OUTPUT_LIMIT", 8: "UNAVAILABLE", 9: "INTERNAL",
}


class ToolgateError(Exception):
    """Base class of every error this module raises."""


class BrokerUnavailable(ToolgateError):
    """The broker could not be reached, went away, or cannot serve now."""


class Denied(ToolgateError):
    """The policy refused the call; .reason says why."""

    def __init__(self, tool, reason, result=None):
        super().__init__(f"call to {tool!r} denied: {reason}")
        self.tool, self.reason, self.result = tool, reason, result


class RateLimited(ToolgateError):
    """A rate limit refused the call; retry after .retry_after_ms."""

    def __init__(self, tool, reason, retry_after_ms, result=None):
        super().__init__(f"call to {tool!r} rate limited: {reason}")
        self.tool, self.reason, self.result = tool, reason, result
        self.retry_after_ms = retry_after_ms


class InvalidRequest(ToolgateError):
    """The broker found the request malformed."""


class BrokerError(ToolgateError):
    """The broker failed internally."""


class Usage:
    __slots__ = ("wall_ms", "cpu_ms", "max_rss_kb")

    def __init__(self, wall_ms, cpu_ms, max_rss_kb):
        self.wall_ms, self.cpu_ms, self.max_rss_kb = wall_ms, cpu_ms, max_rss_kb

    def __repr__(self):
        return (f"Usage(wall_ms={self.wall_ms}, cpu_ms={self.cpu_ms}, "
                f"max_rss_kb={self.max_rss_kb})")


class Result:
    """What a call that reached a tool returned."""

    __slots__ = ("status", "reason", "exit_code", "signal", "stdout", "stderr",
                 "truncated", "redactions", "usage", "rule", "argv", "request_id")

    def __init__(self, **kw):
        for k in self.__slots__:
            setattr(self, k, kw[k])

    @property
    def ok(self):
        """The tool ran to completion and exited 0."""
        return self.status == "OK" and self.exit_code == 0

    def __repr__(self):
        return (f"Result(status={self.status!r}, exit_code={self.exit_code}, "
                f"stdout={self.stdout[:60]!r}, stderr={self.stderr[:60]!r})")


def _load_library():
    candidates = []
    if os.environ.get("TOOLGATE_LIB"):
        candidates.append(os.environ["TOOLGATE_LIB"])
    here = os.path.dirname(os.path.abspath(__file__))
    # The build tree (build/python/toolgate -> build/libtoolgate.so.0) and the
    # jail (/run/toolgate/python/toolgate -> /run/toolgate/lib).
    candidates += [
        os.path.join(here, "..", "..", "libtoolgate.so.0"),
        os.path.join(here, "..", "..", "lib", "libtoolgate.so.0"),
    ]
    found = ctypes.util.find_library("toolgate")
    if found:
        candidates.append(found)
    for path in candidates:
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    raise ToolgateError("libtoolgate.so not found; set TOOLGATE_LIB")


_lib = None


def _c():
    global _lib
    if _lib is not None:
        return _lib
    lib = _load_library()
    vp, cp, i, u32, u64, sz = (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                               ctypes.c_uint32, ctypes.c_uint64, ctypes.c_size_t)
    sigs = {
        "tg_client_open": (i, [cp, ctypes.POINTER(vp)]),
        "tg_client_close": (None, [vp]),
        "tg_client_set_timeout": (None, [vp, u32]),
        "tg_client_strerror": (cp, [i]),
        "tg_params_new": (vp, []),
        "tg_params_free": (None, [vp]),
        "tg_params_add_json": (i, [vp, cp, cp, sz]),
        "tg_call": (i, [vp, cp, vp, ctypes.POINTER(vp)]),
        "tg_tools": (i, [vp, ctypes.POINTER(vp)]),
        "tg_result_free": (None, [vp]),
        "tg_result_to_json": (vp, [vp]),
        "tg_result_status": (i, [vp]),
        "tg_result_stdout": (ctypes.POINTER(ctypes.c_uint8), [vp, ctypes.POINTER(sz)]),
        "tg_result_stderr": (ctypes.POINTER(ctypes.c_uint8), [vp, ctypes.POINTER(sz)]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    libc = ctypes.CDLL(None)
    libc.free.argtypes = [vp]
    lib._free = libc.free
    _lib = lib
    return lib


def _strerror(err):
    return _c().tg_client_strerror(err).decode()


class Client:
    """A connection to a broker (default: $TOOLGATE_URL). Reusable; close()
    it or use it as a context manager."""

    def __init__(self, url=None, timeout_ms=0):
        lib = _c()
        self._h = ctypes.c_void_p()
        err = lib.tg_client_open(url.encode() if url else None, ctypes.byref(self._h))
        if err < 0:
            raise BrokerUnavailable(f"cannot reach the broker at "
                                    f"{url or os.environ.get('TOOLGATE_URL')}: "
                                    f"{_strerror(err)}")
        if timeout_ms:
            lib.tg_client_set_timeout(self._h, timeout_ms)

    def close(self):
        if self._h:
            _c().tg_client_close(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def call(self, tool, **params):
        lib = _c()
        p = lib.tg_params_new()
        if not p:
            raise MemoryError()
        try:
            errbuf = ctypes.create_string_buffer(256)
            err = lib.tg_params_add_json(p, json.dumps(params).encode(), errbuf, 256)
            if err < 0:
                raise ValueError(f"parameters: {errbuf.value.decode()}")
            res = ctypes.c_void_p()
            err = lib.tg_call(self._h, tool.encode(), p, ctypes.byref(res))
        finally:
            lib.tg_params_free(p)
        if err < 0:
            raise BrokerUnavailable(f"call to {tool!r}: {_strerror(err)}")
        try:
            text = lib.tg_result_to_json(res)
            if not text:
                raise BrokerError(f"call to {tool!r}: cannot decode the result (out of memory)")
            d = json.loads(ctypes.string_at(text).decode())
            lib._free(text)
            # The exact bytes, not the JSON rendering of them.
            n = ctypes.c_size_t()
            out = ctypes.string_at(lib.tg_result_stdout(res, ctypes.byref(n)), n.value)
            e = ctypes.string_at(lib.tg_result_stderr(res, ctypes.byref(n)), n.value)
        finally:
            lib.tg_result_free(res)
        r = Result(status=d["status"], reason=d["reason"], exit_code=d["exit_code"],
                   signal=d["signal"], stdout=out.decode("utf-8", "replace"),
                   stderr=e.decode("utf-8", "replace"), truncated=d["truncated"],
                   redactions=d["redactions"], usage=Usage(**d["usage"]),
                   rule=d["rule"], argv=d["argv"], request_id=d["request_id"])
        if r.status == "DENIED":
            raise Denied(tool, r.reason, r)
        if r.status == "RATE_LIMITED":
            raise RateLimited(tool, r.reason, d.get("retry_after_ms", 0), r)
        if r.status == "INVALID":
            raise InvalidRequest(f"call to {tool!r}: {r.reason}")
        if r.status == "UNAVAILABLE":
            raise BrokerUnavailable(f"call to {tool!r}: {r.reason}")
        if r.status == "INTERNAL":
            raise BrokerError(f"call to {tool!r}: {r.reason}")
        return r

    def tools(self):
        lib = _c()
        out = ctypes.c_void_p()
        err = lib.tg_tools(self._h, ctypes.byref(out))
        if err < 0:
            raise BrokerUnavailable(f"tools: {_strerror(err)}")
        try:
            return json.loads(ctypes.string_at(out).decode())
        finally:
            lib._free(out)


def call(tool, **params):
    """Call `tool` with keyword parameters through the broker at
    $TOOLGATE_URL; returns a Result or raises (see the module doc)."""
    with Client() as c:
        return c.call(tool, **params)


def tools():
    """The tools this caller may use: a list of {name, description,
    inputSchema}."""
    with Client() as c:
        return c.tools()
