"""The seccomp filter bubblewrap installs in every sandbox (``bwrap --seccomp FD``).

An app needs files, sockets it was given, threads and processes, memory; it never needs to
make namespaces (a user namespace would give it a root of its own to attack the kernel
with), mount, trace or read other processes' memory, load kernel code (modules, BPF), use
the kernel keyring, perf or io_uring. Those calls fail with EPERM (`DENIED`); ``clone``
fails when it asks for a new namespace, and ``clone3`` (whose flags a filter cannot read)
answers ENOSYS, so that the C library falls back to ``clone``. Where the sandbox has no
memory cgroup, ``memfd_create`` is refused too: nothing else would count such files. Calls of another ABI (32-bit
``int 0x80``) kill the process: libseccomp's filters accept the native architecture only.

The program is compiled by libseccomp (through `pyseccomp`) once per process.
"""

from __future__ import annotations

import errno
import functools
import os
import tempfile

# Namespace flags of clone(2)/unshare(2).
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080
NAMESPACE_FLAGS = (
    CLONE_NEWNS,
    CLONE_NEWCGROUP,
    CLONE_NEWUTS,
    CLONE_NEWIPC,
    CLONE_NEWUSER,
    CLONE_NEWPID,
    CLONE_NEWNET,
    CLONE_NEWTIME,
)

DENIED = (
    # namespaces and mounts
    "unshare",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "chroot",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    # other processes
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "pidfd_getfd",
    "kcmp",
    # kernel code, keys, tracing, io_uring
    "bpf",
    "perf_event_open",
    "init_module",
    "finit_module",
    "delete_module",
    "kexec_load",
    "kexec_file_load",
    "keyctl",
    "add_key",
    "request_key",
    "userfaultfd",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    # the machine
    "reboot",
    "swapon",
    "swapoff",
    "syslog",
    "acct",
    "quotactl",
    "open_by_handle_at",
    "name_to_handle_at",
    "iopl",
    "ioperm",
    "personality",
)


class SeccompUnavailable(RuntimeError):
    """No filter can be built here (libseccomp or pyseccomp missing)."""


@functools.cache
def filter_program(memfd: bool = True) -> bytes:
    """The filter, as the BPF program bubblewrap loads (refusing ``memfd_create`` unless
    `memfd`); SeccompUnavailable saying why not."""
    try:
        import pyseccomp as seccomp

        rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
        deny = seccomp.ERRNO(errno.EPERM)
        for name in DENIED:
            try:
                rules.add_rule(deny, name)
            except ValueError:  # a call this architecture does not have
                continue
        for flag in NAMESPACE_FLAGS:
            rules.add_rule(deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, flag, flag))
        rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
        if not memfd:
            rules.add_rule(deny, "memfd_create")
        with tempfile.TemporaryFile() as out:
            rules.export_bpf(out)
            out.seek(0)
            return out.read()
    except (ImportError, OSError, RuntimeError) as exc:
        raise SeccompUnavailable(f"cannot build the seccomp filter: {exc}") from None


def program_fd(memfd: bool = True) -> int:
    """A readable descriptor of `filter_program` (`memfd`), positioned at its start (for
    ``--seccomp FD``); the caller closes it. Not inherited unless passed explicitly."""
    fd = os.memfd_create("vigil-seccomp", os.MFD_CLOEXEC)
    os.write(fd, filter_program(memfd))
    os.lseek(fd, 0, os.SEEK_SET)
    return fd
