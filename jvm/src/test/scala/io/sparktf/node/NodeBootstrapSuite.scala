package io.sparktf.node

import java.nio.file.Files

import com.fasterxml.jackson.databind.ObjectMapper
import org.scalatest.funsuite.AnyFunSuite

import io.sparktf.{InputMode, TFProgram}
import io.sparktf.cluster.NodeRole

class NodeBootstrapSuite extends AnyFunSuite {
  private def written(mode: Option[InputMode.InputMode]) = {
    val dir = Files.createTempDirectory("sparktf-bootstrap-")
    val base = NodeBootstrap(clusterId = "c1", role = NodeRole("worker", 0), workerNum = 1,
      numWorkers = 2, clusterSpec = Map("chief" -> Seq("h:1"), "worker" -> Seq("h:2")),
      tfConfig = "", host = "127.0.0.1", secret = "s", workingDir = dir,
      program = TFProgram.pickled(Array[Byte](1)), modelDir = None, exportDir = None,
      checkpointDir = None, queueCapacity = 4, feedTimeoutSeconds = 60, linger = false,
      lingerTimeoutSeconds = 60, env = Map.empty)
    val boot = mode.fold(base)(m => base.copy(inputMode = m))
    try new ObjectMapper().readTree(boot.write().toFile) finally NodeProcess.deleteTree(dir)
  }

  test("the bootstrap tells the node its input mode (SPARK unless set)") {
    assert(written(None).get("input_mode").asText() == "SPARK")
    assert(written(Some(InputMode.TENSORFLOW)).get("input_mode").asText() == "TENSORFLOW")
  }
}
