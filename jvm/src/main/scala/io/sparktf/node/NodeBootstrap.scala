package io.sparktf.node

import java.nio.charset.StandardCharsets
import java.nio.file.{Files, Path}
import java.nio.file.attribute.PosixFilePermissions

import scala.jdk.CollectionConverters._

import com.google.protobuf.util.JsonFormat

import io.sparktf.{InputMode, TFProgram}
import io.sparktf.cluster.NodeRole
import io.sparktf.proto.v1

/** Everything a node process needs to start: the `NodeBootstrap` message of
 *  `proto/sparktf/v1/node.proto`, written as `bootstrap.json` (mode 0600) in its working
 *  directory and read by `sparktf.node.bootstrap`. Every field is written; nothing defaults on
 *  the Python side.
 *
 *  `cudaVisibleDevices` is not in the file: the launcher sets it in the process environment,
 *  before Python starts, so no library can initialise CUDA with the executor's GPUs first.
 *  {{{
 *  val boot = NodeBootstrap(clusterId = "c1", role = NodeRole("chief", 0), workerNum = 0,
 *    numWorkers = 1, clusterSpec = Map("chief" -> Seq("h:2222")), tfConfig = "", host = "h",
 *    secret = s, workingDir = dir, program = TFProgram.script("train.py", "main_fun"),
 *    modelDir = None, exportDir = None, checkpointDir = None, queueCapacity = 16,
 *    feedTimeoutSeconds = 600, linger = true, lingerTimeoutSeconds = 86400, env = Map.empty,
 *    executorId = "3")
 *  boot.write()   // dir/bootstrap.json, dir/train.py
 *  }}}
 */
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
    sharedDir: Option[Path] = None,
    executorId: String = "",
    result: Option[NodeBootstrap.ResultFile] = None,
    keras3MwmsFix: Boolean = true) {

  def readyFile: Path = workingDir.resolve(NodeBootstrap.ReadyFileName)

  /** Where [[write]] puts the program: a pickle, or the script under its own name (so the
   *  script's neighbours, if the user ships any, import as they would next to it). */
  def programFile: Path = program match {
    case TFProgram.Pickled(_) => workingDir.resolve("program.pkl")
    case TFProgram.Script(fileName, _, _, _) => workingDir.resolve(fileName)
  }

  /** The bootstrap message, the program being at [[programFile]]. */
  def message: v1.NodeBootstrap = {
    val spec = v1.ProgramSpec.newBuilder()
    program match {
      case TFProgram.Pickled(_) =>
        spec.setPickled(v1.PickledProgram.newBuilder().setPath(programFile.toString))
      case TFProgram.Script(_, _, function, args) =>
        spec.setScript(v1.ScriptProgram.newBuilder().setPath(programFile.toString)
            .setFunction(function).putAllArgs(args.asJava))
    }
    val b = v1.NodeBootstrap.newBuilder()
      .setClusterId(clusterId).setJobName(role.jobName).setTaskIndex(role.taskIndex)
      .setWorkerNum(workerNum).setNumWorkers(numWorkers).setTfConfig(tfConfig).setHost(host)
      .setExecutorId(executorId).setSecret(secret).setReadyFile(readyFile.toString)
      .setWorkingDir(workingDir.toString).setProgram(spec)
      .setInputMode(InputMode.toProto(inputMode)).setQueueCapacity(queueCapacity)
      .setFeedTimeoutSeconds(feedTimeoutSeconds).setLinger(linger)
      .setLingerTimeoutSeconds(lingerTimeoutSeconds).setTensorboard(tensorboard)
      .setKeras3MwmsFix(keras3MwmsFix)
    // Sorted, so the file reads the same on every node and in the contract test.
    env.toSeq.sortBy(_._1).foreach { case (k, v) => b.putEnv(k, v) }
    clusterSpec.toSeq.sortBy(_._1).foreach { case (job, addresses) =>
      b.putClusterSpec(job, v1.NodeAddresses.newBuilder().addAllAddresses(addresses.asJava).build())
    }
    modelDir.foreach(b.setModelDir)
    exportDir.foreach(b.setExportDir)
    checkpointDir.foreach(b.setCheckpointDir)
    logDir.foreach(b.setLogDir)
    sharedDir.foreach(d => b.setSharedDir(d.toString))
    result.foreach(r =>
      b.setResult(
        v1.ProgramResult.newBuilder().setPath(r.path.toString).setMaxBytes(r.maxBytes)))
    b.build()
  }

  /** Writes the program and the bootstrap file; returns the bootstrap file's path. */
  def write(): Path = {
    val bytes = program match {
      case TFProgram.Pickled(pickled) => pickled
      case TFProgram.Script(_, source, _, _) => source.getBytes(StandardCharsets.UTF_8)
    }
    NodeBootstrap.writePrivate(programFile, bytes)
    NodeBootstrap.writeJson(workingDir.resolve(NodeBootstrap.FileName), message)
  }
}

object NodeBootstrap {
  val FileName = "bootstrap.json"
  val ReadyFileName = "ready.json"
  val ResultFileName = "result.pkl"

  /** Where the chief cloudpickles its program's return value ([[io.sparktf.TFCluster.runFunction]])
   *  and the most bytes it may take. */
  final case class ResultFile(path: Path, maxBytes: Long)

  /** Proto3 JSON with the .proto's own field names and every field shown, zeros too: the file is
   *  what a person reads when a node will not start. */
  private val printer = JsonFormat.printer().preservingProtoFieldNames()
    .alwaysPrintFieldsWithNoPresence()

  def json(message: com.google.protobuf.MessageOrBuilder): String = printer.print(message)

  /** Writes `message` as proto3 JSON to a file only the executor's user can read. */
  def writeJson(path: Path, message: com.google.protobuf.MessageOrBuilder): Path =
    writePrivate(path, json(message).getBytes(StandardCharsets.UTF_8))

  /** Files only the executor's user can read: they hold the secret and the program. */
  def writePrivate(path: Path, bytes: Array[Byte]): Path = {
    Files.deleteIfExists(path)
    Files.createFile(path,
      PosixFilePermissions.asFileAttribute(
        PosixFilePermissions.fromString("rw-------")))
    Files.write(path, bytes)
    path
  }
}
