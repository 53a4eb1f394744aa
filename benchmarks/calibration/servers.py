"""The real brokers, started on 127.0.0.1 only for the length of a study and stopped at
the end whatever happens.

Each server runs from a fresh temporary folder (its data, logs and configuration), listens
on loopback alone, and is stopped by its own process id. Nothing is installed here: a
missing package or client library raises `Missing` with the one command that installs it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

HOST = "127.0.0.1"
RABBITMQ_SERVER = Path("/usr/lib/rabbitmq/bin/rabbitmq-server")
ACTIVEMQ_JAR = Path("/usr/share/activemq/bin/activemq.jar")
CLIENTS = {"rabbitmq": ["pika"], "activemq": ["stomp"], "sqs": ["moto", "boto3", "flask"]}
INSTALL = {
    "rabbitmq": "apt-get install rabbitmq-server",
    "activemq": "apt-get install activemq",
    "pika": "pip install pika",
    "stomp": "pip install stomp.py",
    "moto": "pip install 'moto[server]' boto3",
    "boto3": "pip install 'moto[server]' boto3",
    "flask": "pip install 'moto[server]' boto3",
}


class Missing(RuntimeError):
    """A package the study needs is not installed; the message is the command to run."""


def check_installed(broker: str) -> None:
    """Raise `Missing` naming the install command of the first thing `broker` lacks."""
    if broker == "rabbitmq" and not RABBITMQ_SERVER.exists():
        raise Missing(INSTALL["rabbitmq"])
    if broker == "activemq" and (not ACTIVEMQ_JAR.exists() or shutil.which("java") is None):
        raise Missing(INSTALL["activemq"])
    for module in CLIENTS[broker]:
        if importlib.util.find_spec(module) is None:
            raise Missing(INSTALL[module])


def free_port() -> int:
    """A TCP port free on loopback now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float, log: Path) -> None:
    """Wait until something accepts connections on `port`, or fail with the log's tail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None or _failed(log):
            break
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise RuntimeError(f"the broker did not open {HOST}:{port} in {timeout:.0f} s\n{tail}")


def _failed(log: Path) -> bool:
    """ActiveMQ reports a configuration it cannot start with, and keeps running."""
    return log.exists() and b"Failed to execute start task" in log.read_bytes()


def stop(process: subprocess.Popen, grace: float = 15.0) -> None:
    """Stop a server started here: SIGTERM to its process group, SIGKILL if it lingers."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


@contextmanager
def running(broker: str):
    """Start `broker` on loopback; yield its settings (ports); stop it at the end."""
    check_installed(broker)
    folder = Path(tempfile.mkdtemp(prefix=f"calibration-{broker}-"))
    log = folder / "server.log"
    starter = {"rabbitmq": _rabbitmq, "activemq": _activemq, "sqs": _moto}[broker]
    command, env, ports, timeout = starter(folder)
    with log.open("wb") as out:
        # A process group of its own, so that stopping it stops its children (epmd, beam).
        process = subprocess.Popen(
            command, env=env, cwd=folder, stdout=out, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    try:
        wait_for_port(ports["port"], process, timeout, log)
        yield {**ports, "host": HOST, "folder": str(folder)}
    finally:
        stop(process)
        if broker == "rabbitmq":
            _stop_epmd(env)
        shutil.rmtree(folder, ignore_errors=True)


def _rabbitmq(folder: Path):
    port, dist, epmd = free_port(), free_port(), free_port()
    (folder / "rabbitmq.conf").write_text(
        f"listeners.tcp.1 = {HOST}:{port}\n"
        "loopback_users.guest = true\n"
        "log.console = true\nlog.file = false\n"
    )
    (folder / "enabled_plugins").write_text("[].\n")
    env = {
        **os.environ,
        "HOME": str(folder),
        "RABBITMQ_NODENAME": "calibration@localhost",
        "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
        "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
        "RABBITMQ_LOG_BASE": str(folder / "log"),
        "RABBITMQ_DIST_PORT": str(dist),
        # Erlang's port mapper and the node's distribution port on loopback too.
        "ERL_EPMD_ADDRESS": HOST,
        "ERL_EPMD_PORT": str(epmd),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
    }
    return [str(RABBITMQ_SERVER)], env, {"port": port}, 120.0


def _stop_epmd(env: dict) -> None:
    """Erlang's port mapper outlives the node: stop the one this study started (the one
    on this study's own `ERL_EPMD_PORT`)."""
    epmd = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
    if Path(epmd).exists():
        subprocess.run(
            [epmd, "-kill"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            timeout=10, check=False,
        )


ACTIVEMQ_XML = """<beans xmlns="http://www.springframework.org/schema/beans"
  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
  xsi:schemaLocation="http://www.springframework.org/schema/beans
  http://www.springframework.org/schema/beans/spring-beans-2.0.xsd
  http://activemq.apache.org/schema/core
  http://activemq.apache.org/schema/core/activemq-core.xsd">
  <broker xmlns="http://activemq.apache.org/schema/core" useJmx="false"
          brokerName="calibration" schedulerSupport="true" dataDirectory="{data}">
    <plugins>
      <redeliveryPlugin fallbackToDeadLetter="true" sendToDlqIfMaxRetriesExceeded="true">
        <redeliveryPolicyMap>
          <redeliveryPolicyMap>
            <defaultEntry>
              <redeliveryPolicy maximumRedeliveries="{max_redeliveries}"
                                initialRedeliveryDelay="{delay_ms}"
                                redeliveryDelay="{delay_ms}"/>
            </defaultEntry>
          </redeliveryPolicyMap>
        </redeliveryPolicyMap>
      </redeliveryPlugin>
    </plugins>
    <persistenceAdapter><kahaDB directory="{data}/kahadb"/></persistenceAdapter>
    <transportConnectors>
      <transportConnector name="stomp" uri="stomp://{host}:{port}"/>
    </transportConnectors>
  </broker>
</beans>
"""

#: The broker-side redelivery policy of the ActiveMQ runs (see cases.py); ActiveMQ refuses
#: delays of a second or less (its scheduler's period).
ACTIVEMQ_REDELIVERY = {"max_redeliveries": 2, "delay_ms": 1500}


def _activemq(folder: Path):
    port = free_port()
    data = folder / "data"
    data.mkdir()
    (folder / "activemq.xml").write_text(
        ACTIVEMQ_XML.format(data=data, host=HOST, port=port, **ACTIVEMQ_REDELIVERY)
    )
    command = [
        "java", "-Xms128m", "-Xmx256m",
        "-Dactivemq.home=/usr/share/activemq", f"-Dactivemq.base={folder}",
        f"-Dactivemq.conf={folder}", f"-Dactivemq.data={data}",
        "-jar", str(ACTIVEMQ_JAR), "start", f"xbean:file:{folder / 'activemq.xml'}",
    ]
    return command, dict(os.environ), {"port": port}, 90.0


def _moto(folder: Path):
    port = free_port()
    command = [
        sys.executable, "-c", "import sys; from moto.server import main; main(sys.argv[1:])",
        "-H", HOST, "-p", str(port),
    ]
    return command, dict(os.environ), {"port": port}, 60.0
