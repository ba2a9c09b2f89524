"""Event Hubs leg of the race (bench/race/run.sh --source eventhub_kafka): the same {"records":[...]}
envelopes as `--shape envelopes`, read by the connector's `eventhub_kafka` source from librdkafka's
mock cluster instead of a file. The cluster runs in its own process (siem-mock-kafka, built from
bench/race/mock_kafka_host.cc), so the connector's CPU time and RSS are its own; kcat produces each
envelope as one message before the rounds start, and every connector run reads the topic from the
start with a consumer group of its own (`run --once` ends when every partition is read to its end).

The mock cluster keeps at most 5 MiB per partition (older messages are deleted, as retention would:
librdkafka's rdkafka_mock.c, not configurable), so the envelopes are produced in file order into
partitions of at most 4 MiB each: ~48 partitions for the default 200 000-record mix. Event Hubs Premium and Dedicated
hubs have up to 100 and 1024 partitions; the connector consumes them all in one group member.
"""
import os
import subprocess

TOPIC = "insights-logs-race"
PARTITION_BYTES = 4 << 20  # under the mock's 5 MiB per partition


class MockCluster:
    def __init__(self, binary, envelopes_path, work):
        # Envelopes in file order, each partition filled up to PARTITION_BYTES before the next, one
        # file per partition, streamed (the race holds none of it: a child's peak RSS from wait4
        # counts the memory of the process it was started from).
        self.files = []
        out, size = None, 0
        with open(envelopes_path, "rb") as f:
            for line in f:
                if out is None or (size + len(line) > PARTITION_BYTES and size > 0):
                    if out:
                        out.close()
                    self.files.append(os.path.join(work, f"partition-{len(self.files)}.json"))
                    out, size = open(self.files[-1], "wb"), 0
                out.write(line)
                size += len(line)
        if out:
            out.close()
        self.partitions = len(self.files)
        self.proc = subprocess.Popen([binary, "--topic", TOPIC, "--partitions", str(self.partitions)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        line = self.proc.stdout.readline().decode().split()
        if len(line) != 2 or line[0] != "bootstraps":
            self.close()
            raise RuntimeError(f"siem-mock-kafka did not start (said {line!r})")
        self.bootstraps = line[1]

    def produce(self, timeout=120):
        """Each envelope as one message into its partition (kcat -P -p N per partition, bounded)."""
        for partition, path in enumerate(self.files):
            subprocess.run(["kcat", "-P", "-q", "-b", self.bootstraps, "-t", TOPIC, "-p", str(partition),
                            "-X", "log_level=0", "-X", "message.max.bytes=8000000", "-l", path],
                           check=True, timeout=timeout)
            os.remove(path)

    def source_line(self, group, properties=""):
        extra = f", {properties}" if properties else ""
        return (f"  - {{name: race, type: eventhub_kafka, brokers: \"{self.bootstraps}\", topic: {TOPIC}, "
                f"group_id: {group}, poll_interval: 200ms, properties: {{log_level: 3{extra}}}}}\n")

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()  # siem-mock-kafka serves until its stdin closes
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
