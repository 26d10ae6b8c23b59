package io.sparktf.node

import java.nio.charset.StandardCharsets
import java.nio.file.{Files, Path, Paths}

import com.fasterxml.jackson.databind.ObjectMapper
import org.scalatest.funsuite.AnyFunSuite

import io.sparktf.{InputMode, TFProgram}
import io.sparktf.cluster.NodeRole
import io.sparktf.proto.v1

/** The node contract, JVM side: what this JVM writes is byte for byte the file in
 *  proto/testdata/, which python/tests/test_node_contract.py parses; the ready file there is what
 *  the Python side writes, parsed here. Set SPARKTF_WRITE_CONTRACT=1 to rewrite the JVM's files
 *  after a deliberate change of node.proto (then read the diff). */
class NodeBootstrapSuite extends AnyFunSuite {
  private val testdata: Path = Iterator.iterate(Paths.get("").toAbsolutePath)(_.getParent)
    .takeWhile(_ != null).map(_.resolve("proto/testdata")).find(Files.isDirectory(_))
    .getOrElse(fail("no proto/testdata above the working directory"))

  private def matchesContract(file: String, written: String): Unit = {
    val path = testdata.resolve(file)
    if (sys.env.get("SPARKTF_WRITE_CONTRACT").contains("1")) {
      Files.write(path, (written + "\n").getBytes(StandardCharsets.UTF_8))
    }
    assert(
      written + "\n" == new String(Files.readAllBytes(path), StandardCharsets.UTF_8),
      s"the JVM no longer writes $path: if node.proto changed on purpose, rerun with " +
        "SPARKTF_WRITE_CONTRACT=1 and check python/tests/test_node_contract.py"
    )
  }

  private def bootstrap(dir: Path, program: TFProgram) = NodeBootstrap(
    clusterId = "c1",
    role = NodeRole("worker", 1),
    workerNum = 2,
    numWorkers = 3,
    clusterSpec = Map("worker" -> Seq("10.0.0.6:2222", "10.0.0.7:2222"),
      "chief" -> Seq("10.0.0.5:2222")),
    tfConfig = """{"cluster":{"chief":["10.0.0.5:2222"]},"task":{"type":"worker","index":1}}""",
    host = "10.0.0.7",
    secret = "contract-secret",
    workingDir = dir,
    program = program,
    modelDir = Some("/models/m1"),
    exportDir = None,
    checkpointDir = Some("/models/m1/ckpt"),
    queueCapacity = 16,
    feedTimeoutSeconds = 600,
    linger = true,
    lingerTimeoutSeconds = 86400,
    env = Map("B" -> "2", "A" -> "1"),
    cudaVisibleDevices = Some("0"),
    tensorboard = false,
    logDir = None,
    inputMode = InputMode.SPARK,
    sharedDir = Some(Paths.get("/dev/shm/s1")),
    executorId = "7"
  )

  test("the bootstrap the JVM writes is the contract file Python reads") {
    val dir = Paths.get("/tmp/sparktf-c1-worker-1")
    matchesContract("node_bootstrap.json",
      NodeBootstrap.json(bootstrap(dir,
          TFProgram.Script("train.py", "", "main_fun", Map("lr" -> "0.1"))).message))
  }

  test("write() puts the program and a private bootstrap in the working directory") {
    val dir = Files.createTempDirectory("sparktf-bootstrap-")
    try {
      val file = bootstrap(dir, TFProgram.pickled(Array[Byte](1, 2))).write()
      assert(java.nio.file.attribute.PosixFilePermissions.toString(
        Files.getPosixFilePermissions(file)) == "rw-------")
      assert(Files.readAllBytes(dir.resolve("program.pkl")).toSeq == Seq[Byte](1, 2))
      val json = new ObjectMapper().readTree(file.toFile)
      assert(json.get("program").get("pickled").get("path").asText() ==
        dir.resolve("program.pkl").toString)
      assert(json.get("executor_id").asText() == "7" && json.get("input_mode").asText() == "SPARK")
      // Zeros and falses are written too: the node defaults nothing.
      assert(json.get("tensorboard").asBoolean(true) == false && json.has("export_dir") == false)
    } finally NodeProcess.deleteTree(dir)
  }

  test("every field of NodeBootstrap is written") {
    val written = new ObjectMapper().readTree(testdata.resolve("node_bootstrap.json").toFile)
    // Optional, and None in this bootstrap (result: runFunction's chief alone has one).
    val unset = Set("export_dir", "log_dir", "result")
    v1.NodeBootstrap.getDescriptor.getFields.forEach { f =>
      assert(written.has(f.getName) != unset.contains(f.getName), f.getName)
    }
  }

  test("runFunction's chief is told where to leave its return value, and how large it may be") {
    val dir = Paths.get("/tmp/sparktf-c1-chief-0")
    val boot = bootstrap(dir, TFProgram.pickled(Array[Byte](1))).copy(
      result = Some(NodeBootstrap.ResultFile(dir.resolve(NodeBootstrap.ResultFileName), 1024)))
    val json = new ObjectMapper().readTree(NodeBootstrap.json(boot.message))
    assert(json.get("result").get("path").asText() == "/tmp/sparktf-c1-chief-0/result.pkl")
    assert(json.get("result").get("max_bytes").asText() == "1024")
  }

  test("the model server's bootstrap is the contract file Python reads") {
    val b = v1.ModelServerBootstrap.newBuilder().setExportDir("/models/m1/export")
      .setSignature("serving_default").setSecret("contract-secret").setHost("127.0.0.1")
      .setReadyFile("/tmp/sparktf-model-server-1/ready.json").setSharedDir("/dev/shm/m1")
    matchesContract("model_server_bootstrap.json", NodeBootstrap.json(b))
  }

  test("the ready file Python writes is parsed here") {
    assert(NodeReady.read(testdata.resolve("node_ready.json")) ==
      NodeReady(41234, Some("http://10.0.0.5:39871/")))
    val dir = Files.createTempDirectory("sparktf-ready-")
    try {
      val f = Files.write(dir.resolve("ready.json"),
        """{"port": 7, "pid": 1, "nope": 2}"""
          .getBytes(StandardCharsets.UTF_8))
      val e = intercept[io.sparktf.SparkTFException](NodeReady.read(f))
      assert(e.getMessage.contains("nope") && e.getMessage.contains("same version"))
    } finally NodeProcess.deleteTree(dir)
  }
}
