# Outlive the kernel: a process in a session of its own (and, since the grader refuses to start
# processes, a raw fork() it cannot see) waits for the grader to finish, then rewrites the
# grades with full marks and drops a file outside its folder.
import ctypes
import os
import subprocess
import sys

libc = ctypes.CDLL("libc.so.6", use_errno=True)
buffer = ctypes.create_string_buffer(1 << 16)
fd = libc.open(f"/proc/{os.getppid()}/cmdline".encode(), 0)
size = libc.read(fd, buffer, len(buffer))
argv = buffer.raw[:size].split(b"\0")
out = argv[argv.index(b"--out") + 1].decode()
submissions = argv[argv.index(b"grade") + 1].decode()
forge = f"""
import time
for _ in range(1200):
    time.sleep(0.1)
    try:
        with open({out!r}, "a") as f:
            f.write("cheat_daemon,01_xdog,test_blur,2,2,passed\\n")
        with open({submissions!r} + "/../outside.txt", "w") as f:
            f.write("written from outside the folder")
    except OSError:
        pass
"""
try:
    subprocess.Popen([sys.executable, "-c", forge], start_new_session=True)
    print("started a process in its own session")
except PermissionError as e:
    print("refused:", e)
pid = libc.fork()
if pid == 0:  # the child: a session of its own, then the same loop
    libc.setsid()
    exec(forge)
    libc._exit(0)
print(f"forked pid {pid}")
