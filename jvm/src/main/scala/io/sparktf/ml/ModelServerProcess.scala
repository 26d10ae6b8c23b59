package io.sparktf.ml

import java.nio.file.Path

import org.slf4j.LoggerFactory

import io.sparktf.node.{ManagedProcess, NodeBootstrap}
import io.sparktf.proto.v1
import io.sparktf.rpc.ClusterSecret

/** A model server process on this executor: `python -m sparktf.serving` holding one SavedModel
 *  signature, answering on `host:port` behind its own secret. Tasks hand it their batches as
 *  files in `sharedDir` (shared memory) when this machine has one.
 *  {{{
 *  val server = ModelServerProcess.start(ModelKey("/tmp/export", "serving_default", "v1"),
 *    "python3", "127.0.0.1", 120)
 *  try println(server.port) finally server.stop()
 *  }}}
 */
final class ModelServerProcess private (val key: ModelKey, val host: String, val port: Int,
    val secret: ClusterSecret, managed: ManagedProcess, val sharedDir: Option[Path]) {
  def isAlive: Boolean = managed.isAlive
  def pid: Long = managed.pid

  /** Ends the server (it holds no state worth a grace period) and removes its directories. */
  def stop(): Unit = managed.stop(0)
}

/** What a model server holds: a SavedModel's signature, at one version of its files. */
final case class ModelKey(exportDir: String, signature: String, version: String)

object ModelServerProcess {
  private val log = LoggerFactory.getLogger("io.sparktf.serving")

  def start(key: ModelKey, python: String, host: String,
      readyTimeoutSeconds: Double): ModelServerProcess = {
    val workDir = ManagedProcess.privateDir("model", "server")
    val sharedDir = ManagedProcess.sharedDir("model", "server")
    val secret = ClusterSecret.create(s"model-${System.nanoTime()}", None)
    val ready = workDir.resolve(NodeBootstrap.ReadyFileName)
    val boot = v1.ModelServerBootstrap.newBuilder().setExportDir(key.exportDir)
      .setSignature(key.signature).setSecret(secret.value).setHost(host)
      .setReadyFile(ready.toString)
    sharedDir.foreach(d => boot.setSharedDir(d.toString))
    val bootFile = NodeBootstrap.writeJson(workDir.resolve(NodeBootstrap.FileName), boot)
    val pb = ManagedProcess.pythonModule(python, "sparktf.serving", bootFile.toString, workDir)
    pb.environment().putIfAbsent("TF_CPP_MIN_LOG_LEVEL", "2")
    val label = s"model-server ${key.signature}@${key.exportDir}"
    val managed = ManagedProcess.start(pb,
      s"the model server for signature '${key.signature}' of '${key.exportDir}'", label, python,
      log, workDir +: sharedDir.toSeq)
    val port = managed.awaitReady(ready, readyTimeoutSeconds).port
    new ModelServerProcess(key, host, port, secret, managed, sharedDir)
  }
}
