"""Hostile: tries the system calls a sandbox must not make; reports each one's errno."""

from __future__ import annotations

import ctypes
import errno
import os

from vigil.apps import App, AppSettings

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWNET = 0x10000000, 0x00020000, 0x40000000
SIGCHLD = 17
# x86_64 numbers of calls that have no libc wrapper
SYS = {"bpf": 321, "keyctl": 250, "userfaultfd": 323, "io_uring_setup": 425, "clone": 56}


def _call(fn, *args) -> str:
    ctypes.set_errno(0)
    result = fn(*args)
    return "ok" if result >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")


def _clone(flags: int) -> str:
    ctypes.set_errno(0)
    pid = libc.syscall(SYS["clone"], flags, 0, 0, 0, 0)
    if pid == 0:  # the child, should it exist
        os._exit(0)
    if pid > 0:
        os.waitpid(pid, 0)
        return "ok"
    return errno.errorcode.get(ctypes.get_errno(), "?")


class Escaper(App):
    kind = "escaper"
    Settings = AppSettings
    emits = ("probe",)

    def process(self, ctx, objects):
        if ctx.frame_index != 0:
            return []
        buf = ctypes.create_string_buffer(64)
        outcome = {
            "unshare(CLONE_NEWUSER)": _call(libc.unshare, CLONE_NEWUSER),
            "unshare(CLONE_NEWNS)": _call(libc.unshare, CLONE_NEWNS),
            "clone(CLONE_NEWNET)": _clone(CLONE_NEWNET | SIGCHLD),
            "mount": _call(libc.mount, b"none", b"/tmp", b"tmpfs", 0, None),
            "ptrace(ATTACH 1)": _call(libc.ptrace, 16, 1, None, None),
            "keyctl": _call(libc.syscall, SYS["keyctl"], 0, 0, 0, 0, 0),
            "bpf": _call(libc.syscall, SYS["bpf"], 0, buf, 64),
            "userfaultfd": _call(libc.syscall, SYS["userfaultfd"], 0),
            "io_uring_setup": _call(libc.syscall, SYS["io_uring_setup"], 1, buf),
        }
        pid = os.fork()  # a plain fork still works
        if pid == 0:
            os._exit(0)
        outcome["fork"] = "ok" if os.waitpid(pid, 0)[1] == 0 else "failed"
        return [self.event(ctx, "probe", attributes=outcome)]
