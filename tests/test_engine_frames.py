"""The worker's framed reads (``FrameReader``): whole, split, sent ahead, cut off."""

from __future__ import annotations

import pickle
import socket
import threading

from sovkg.engine.worker import HEADER, FrameReader, write_frame


def _frame(message: object) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


def test_frames_sent_ahead_in_one_write_are_read_one_by_one() -> None:
    a, b = socket.socketpair()
    with a, b:
        a.sendall(b"".join(_frame((i, "query", "x" * i)) for i in range(5)))
        reader = FrameReader(b)
        assert [reader.read() for _ in range(5)] == [(i, "query", "x" * i) for i in range(5)]


def test_a_frame_that_arrives_byte_by_byte_is_read_whole() -> None:
    a, b = socket.socketpair()
    data = _frame({"big": "y" * 200_000})

    def trickle() -> None:
        for i in range(0, 64):  # the head and the first bytes one at a time, then the rest
            a.sendall(data[i : i + 1])
        a.sendall(data[64:])

    with a, b:
        t = threading.Thread(target=trickle)
        t.start()
        assert FrameReader(b).read() == {"big": "y" * 200_000}
        t.join()


def test_a_frame_larger_than_a_megabyte_is_read_whole() -> None:
    a, b = socket.socketpair()
    message = ("z" * (3 << 20), 7)
    with a, b:
        t = threading.Thread(target=write_frame, args=(a, message))
        t.start()
        assert FrameReader(b).read() == message
        t.join()


def test_the_other_side_closing_mid_frame_or_between_frames_reads_none() -> None:
    a, b = socket.socketpair()
    with b:
        a.sendall(_frame("whole") + _frame("cut")[:7])
        a.close()
        reader = FrameReader(b)
        assert reader.read() == "whole"
        assert reader.read() is None
    a, b = socket.socketpair()
    with b:
        a.close()
        assert FrameReader(b).read() is None
