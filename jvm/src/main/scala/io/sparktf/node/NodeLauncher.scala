package io.sparktf.node

import java.nio.file.Path

import org.slf4j.LoggerFactory

/** Starts the node process `python -m sparktf.node bootstrap.json` on this executor and waits
 *  until it reports its port (and its TensorBoard's URL, if it runs one) in `ready.json`.
 *
 *  The node's Python code comes from the jar this class was loaded from (the `sparktf` package
 *  sits at the jar's root), put first on PYTHONPATH so the node always matches the JVM side.
 *  {{{
 *  val dir = NodeLauncher.workingDir(clusterId, "chief-0")
 *  val (node, ready) = NodeLauncher.launch(boot, "python3", readyTimeoutSeconds = 600)
 *  }}}
 */
object NodeLauncher {
  private val log = LoggerFactory.getLogger("io.sparktf.node")

  /** A private working directory for one node: bootstrap, program and ready files. */
  def workingDir(clusterId: String, label: String): Path =
    ManagedProcess.privateDir(clusterId, label)

  /** A private (0700) directory in shared memory for feed tasks on this machine; None where
   *  there is no writable /dev/shm (see [[ManagedProcess.sharedDir]]). */
  def sharedDir(clusterId: String, label: String): Option[Path] =
    ManagedProcess.sharedDir(clusterId, label)

  /** Writes the bootstrap, starts the node and waits for its ready file; a node that fails to
   *  become ready is stopped and its directories removed. */
  def launch(boot: NodeBootstrap, python: String,
      readyTimeoutSeconds: Double): (NodeProcess, NodeReady) = {
    val bootstrapFile = boot.write()
    val pb = ManagedProcess.pythonModule(python, "sparktf.node", bootstrapFile.toString,
      boot.workingDir)
    val env = pb.environment()
    boot.cudaVisibleDevices.foreach(env.put("CUDA_VISIBLE_DEVICES", _))
    boot.env.foreach { case (k, v) => env.put(k, v) }
    val label = boot.role.address
    val node = new NodeProcess(boot.role,
      ManagedProcess.start(pb, s"node $label", label, python,
        log, boot.workingDir +: boot.sharedDir.toSeq))
    val ready = node.managed.awaitReady(
      boot.readyFile,
      readyTimeoutSeconds,
      " (reservation_timeout): it never reported its port; raise reservation_timeout if nodes " +
        "start slowly here, else see its stderr"
    )
    (node, ready)
  }

  /** The Python the nodes run, as Spark picks it for its own Python workers. */
  def pythonExecutable(conf: org.apache.spark.SparkConf): String =
    conf.getOption("spark.sparktf.python")
      .orElse(conf.getOption("spark.pyspark.python"))
      .orElse(sys.env.get("PYSPARK_PYTHON"))
      .filter(_.nonEmpty).getOrElse("python3")
}
