"""The resilience suite: crashes, dropped connections, concurrent runs, full disks, hostile input."""
