package io.sparktf.node

import java.nio.charset.StandardCharsets
import java.nio.file.{Files, Path}
import java.nio.file.attribute.PosixFilePermissions

import scala.jdk.CollectionConverters._

import com.fasterxml.jackson.databind.ObjectMapper

import io.sparktf.{InputMode, TFProgram}
import io.sparktf.cluster.NodeRole

/** Everything a node process needs to start, written as `bootstrap.json` (mode 0600) in its
 *  working directory. The Python side (`sparktf.node.bootstrap`) reads the same fields.
 *
 *  `cudaVisibleDevices` is not in the file: the launcher sets it in the process environment,
 *  before Python starts, so no library can initialise CUDA with the executor's GPUs first. */
final case class NodeBootstrap(
    clusterId: String,
    role: NodeRole,
    workerNum: Int,
    numWorkers: Int,
    clusterSpec: Map[String, Seq[String]],
    tfConfig: String,
    host: String,
    secret: String,
    workingDir: Path,
    program: TFProgram,
    modelDir: Option[String],
    exportDir: Option[String],
    checkpointDir: Option[String],
    queueCapacity: Int,
    feedTimeoutSeconds: Double,
    linger: Boolean,
    lingerTimeoutSeconds: Double,
    env: Map[String, String],
    cudaVisibleDevices: Option[String] = None,
    tensorboard: Boolean = false,
    logDir: Option[String] = None,
    inputMode: InputMode.InputMode = InputMode.SPARK,
    sharedDir: Option[Path] = None) {

  def readyFile: Path = workingDir.resolve("ready.json")

  /** Writes the program and the bootstrap file; returns the bootstrap file's path. */
  def write(): Path = {
    val programJson = new java.util.LinkedHashMap[String, Any]()
    program match {
      case TFProgram.Pickled(bytes) =>
        programJson.put("kind", "pickled")
        programJson.put("path", NodeBootstrap.writePrivate(workingDir.resolve("program.pkl"), bytes)
          .toString)
      case TFProgram.Script(fileName, source, function, args) =>
        programJson.put("kind", "script")
        programJson.put("path", NodeBootstrap.writePrivate(workingDir.resolve(fileName),
          source.getBytes(StandardCharsets.UTF_8)).toString)
        programJson.put("function", function)
        programJson.put("args", args.asJava)
    }
    val root = new java.util.LinkedHashMap[String, Any]()
    root.put("cluster_id", clusterId)
    root.put("job_name", role.jobName)
    root.put("task_index", role.taskIndex)
    root.put("worker_num", workerNum)
    root.put("num_workers", numWorkers)
    root.put("cluster_spec", clusterSpec.map { case (k, v) => k -> v.asJava }.asJava)
    root.put("tf_config", tfConfig)
    root.put("host", host)
    root.put("secret", secret)
    root.put("ready_file", readyFile.toString)
    root.put("working_dir", workingDir.toString)
    root.put("program", programJson)
    root.put("model_dir", modelDir.orNull)
    root.put("export_dir", exportDir.orNull)
    root.put("checkpoint_dir", checkpointDir.orNull)
    root.put("queue_capacity", queueCapacity)
    root.put("feed_timeout_seconds", feedTimeoutSeconds)
    root.put("linger", linger)
    root.put("linger_timeout_seconds", lingerTimeoutSeconds)
    root.put("env", env.asJava)
    root.put("tensorboard", tensorboard)
    root.put("log_dir", logDir.orNull)
    // Only InputMode.SPARK feeds nodes: in TENSORFLOW mode a node has no data feed to wait on.
    root.put("input_mode", inputMode.toString)
    root.put("shared_dir", sharedDir.map(_.toString).orNull)
    NodeBootstrap.writePrivate(workingDir.resolve("bootstrap.json"),
      new ObjectMapper().writeValueAsBytes(root))
  }
}

object NodeBootstrap {
  /** Files only the executor's user can read: they hold the secret and the program. */
  def writePrivate(path: Path, bytes: Array[Byte]): Path = {
    Files.deleteIfExists(path)
    Files.createFile(path, PosixFilePermissions.asFileAttribute(
      PosixFilePermissions.fromString("rw-------")))
    Files.write(path, bytes)
    path
  }
}
