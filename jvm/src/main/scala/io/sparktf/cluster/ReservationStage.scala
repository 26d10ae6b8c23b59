package io.sparktf.cluster

import java.net.{InetAddress, ServerSocket}
import java.util.concurrent.TimeUnit

import scala.util.{Failure, Success, Try}

import org.apache.spark.{BarrierTaskContext, SparkContext, SparkEnv, TaskKilledException}
import org.slf4j.LoggerFactory

import io.sparktf.{ClusterConfig, InputMode, SparkTFException, TFProgram}
import io.sparktf.node.{NodeBootstrap, NodeLauncher, NodeProcess, NodeRegistry}
import io.sparktf.rpc.ClusterSecret

/** Reserves the executors and starts one node on each, in a barrier stage: all tasks run at once
 *  or none does, so a cluster too small fails fast instead of waiting for slots.
 *
 *  Each task picks a port for TensorFlow, the tasks swap addresses with `allGather`, each builds
 *  its TF_CONFIG and starts its node, and a second `allGather` makes the start all-or-nothing:
 *  if any node failed, every task stops its own node and fails.
 */
object ReservationStage {
  /** Seconds a node's program gets to return when its task is killed (InputMode.TENSORFLOW). */
  private val StopGraceOnKillSeconds = 2.0

  /** Runs the stage. In InputMode.SPARK it returns once every node is ready; in
   *  InputMode.TENSORFLOW its tasks wait for their nodes' programs to end. */
  def run(sc: SparkContext, clusterId: String, layout: ClusterLayout, config: ClusterConfig,
      program: TFProgram, secret: ClusterSecret, python: String): Seq[NodeInfo] = {
    sc.setJobDescription(s"sparktf cluster $clusterId: start ${layout.size} TensorFlow nodes")
    try {
      sc.parallelize(0 until layout.size, layout.size).barrier().mapPartitions { _ =>
        Iterator(startNode(BarrierTaskContext.get(), clusterId, layout, config, program, secret,
          python))
      }.collect().toSeq.sortBy(_.barrierIndex)
    } finally sc.setJobDescription(null)
  }

  private def startNode(ctx: BarrierTaskContext, clusterId: String, layout: ClusterLayout,
      config: ClusterConfig, program: TFProgram, secret: ClusterSecret,
      python: String): NodeInfo = {
    val log = LoggerFactory.getLogger(getClass)
    val index = ctx.partitionId()
    val role = layout.roles(index)
    val env = SparkEnv.get
    val host = env.blockManager.blockManagerId.host
    val executorId = env.executorId
    val tfPort = if (role.inClusterSpec) freePort(host) else 0

    val peers = ctx.allGather(Seq(index.toString, executorId, host, tfPort.toString).mkString("\t"))
      .map(_.split("\t")).map(p => (p(0).toInt, p(1), p(2), p(3).toInt)).sortBy(_._1)
    peers.groupBy(_._2).collectFirst { case (exec, members) if members.size > 1 =>
      throw new SparkTFException(s"executor $exec was given ${members.size} sparktf nodes " +
        s"(${members.map(m => layout.roles(m._1).address).mkString(", ")}); each executor must " +
        "run exactly one task at a time: one core per executor, or spark.task.cpus = cores")
    }
    val spec = TFConfig.clusterSpec(peers.toSeq.map(p => layout.roles(p._1) -> s"${p._3}:${p._4}"))
    val gpus = ctx.resources().get(GpuBinding.ResourceName).map(_.addresses.toSeq)
    val visibleDevices = Try(GpuBinding.cudaVisibleDevices(gpus,
      sys.env.get("CUDA_VISIBLE_DEVICES"), role, config.psGpus))
    val label = role.address.replace(':', '-')
    val workDir = NodeLauncher.workingDir(clusterId, label)
    val sharedDir = if (config.sharedMemoryFeed && config.inputMode == InputMode.SPARK &&
        role.takesData) {
      NodeLauncher.sharedDir(clusterId, label)
    } else None
    val boot = NodeBootstrap(
      clusterId = clusterId, role = role, workerNum = index, numWorkers = layout.numWorkers,
      clusterSpec = spec, tfConfig = TFConfig.json(spec, role), host = host,
      secret = secret.value, workingDir = workDir, program = program,
      modelDir = config.modelDir, exportDir = config.exportDir,
      checkpointDir = config.checkpointLocation,
      queueCapacity = config.queueCapacity, feedTimeoutSeconds = config.feedTimeout,
      linger = config.inputMode == InputMode.SPARK,
      lingerTimeoutSeconds = 24 * 3600.0, env = config.env,
      cudaVisibleDevices = visibleDevices.getOrElse(None),
      tensorboard = config.tensorboard && layout.tensorboardRole.contains(role),
      logDir = config.logDir, inputMode = config.inputMode, sharedDir = sharedDir,
      executorId = executorId)

    // A GPU binding error fails this node's start like any other, so every task reports it.
    val started = visibleDevices.flatMap(_ =>
      Try(NodeLauncher.launch(boot, python, config.reservationTimeout)))
    // No process to own the node's directories (a failed launch removes them too: idempotent).
    if (started.isFailure) (workDir +: sharedDir.toSeq).foreach(NodeProcess.deleteTree)
    started.foreach { case (node, _) =>
      // A stage that fails after this point must not leave the node behind.
      ctx.addTaskFailureListener(new org.apache.spark.util.TaskFailureListener {
        override def onTaskFailure(context: org.apache.spark.TaskContext, error: Throwable): Unit =
          node.stop(0)
      })
    }
    val outcomes = ctx.allGather(started match {
      case Success(_) => "ok"
      case Failure(e) => s"${role.address} on $host (executor $executorId): ${e.getMessage}"
    })
    val failed = outcomes.filter(_ != "ok")
    if (failed.nonEmpty) {
      started.foreach { case (node, _) => node.stop(0) }
      // Every task names every node that failed: whichever task Spark reports first, the
      // driver's error lists all of them.
      throw new SparkTFException(s"${failed.size} of ${layout.size} nodes did not start:\n" +
        failed.mkString("\n"), started.failed.toOption.orNull)
    }
    val (node, ready) = started.get
    NodeRegistry.register(clusterId, node)
    log.info(s"sparktf node ${role.address} ready on $host:${ready.port} (TF port $tfPort" +
      boot.cudaVisibleDevices.fold("")(d => s", CUDA_VISIBLE_DEVICES='$d'") +
      ready.tensorboardUrl.fold("")(u => s", TensorBoard $u") + ")")
    if (config.inputMode == InputMode.TENSORFLOW) awaitProgram(ctx, node)
    NodeInfo(index, role, executorId, host, tfPort, ready.port, node.pid,
      gpus.getOrElse(Nil), boot.cudaVisibleDevices, ready.tensorboardUrl,
      sharedDir.map(_.toString))
  }

  /** InputMode.TENSORFLOW: the task lives as long as its node's program. */
  private def awaitProgram(ctx: BarrierTaskContext, node: NodeProcess): Unit = {
    // Spark kills the other tasks of a failed barrier stage without interrupting them: a node
    // blocked on its dead peer would hold the executor (and a restart) forever.
    while (!node.process.waitFor(500, TimeUnit.MILLISECONDS)) {
      if (ctx.isInterrupted()) {
        node.stop(StopGraceOnKillSeconds)
        throw new TaskKilledException("the barrier stage was killed: another node failed")
      }
    }
    Thread.sleep(200) // let the pumps copy the last lines
    val code = node.process.exitValue()
    node.stop(0)
    if (code != 0) {
      throw new SparkTFException(s"node ${node.role.address} ${node.exitDescription}; its " +
        s"stderr ends with:\n${node.stderrTail}")
    }
  }

  /** A free port on the executor's address, for TensorFlow's own server to bind later. */
  private def freePort(host: String): Int = {
    val s = new ServerSocket(0, 1, InetAddress.getByName(host))
    try s.getLocalPort finally s.close()
  }
}
