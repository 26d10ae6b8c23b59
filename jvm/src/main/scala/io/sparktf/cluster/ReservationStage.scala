package io.sparktf.cluster

import java.net.{InetAddress, ServerSocket}
import java.nio.file.Path
import java.util.concurrent.TimeUnit

import scala.concurrent.{Await, TimeoutException}
import scala.concurrent.duration._
import scala.util.{Failure, Random, Success, Try}

import org.apache.spark.{BarrierTaskContext, FutureAction, SparkContext, TaskKilledException}
import org.apache.spark.sparktf.ExecutorIdentity
import org.apache.spark.util.CollectionAccumulator
import org.slf4j.LoggerFactory

import io.sparktf.{ClusterConfig, InputMode, JobDescription, SparkTFException, TFProgram}
import io.sparktf.node.{NodeBootstrap, NodeLauncher, NodeProcess, NodeReady, NodeRegistry}
import io.sparktf.rpc.{ChannelWarmup, ClusterSecret}

/** Reserves the executors and starts one node on each, in a barrier stage: all tasks run at once
 *  or none does, so a cluster too small fails fast instead of waiting for slots, and a cluster
 *  whose slots another job holds waits at most `reservation_timeout` for them.
 *
 *  Each task ([[startNode]]) finds its place (executor, host, TensorFlow port), the tasks swap
 *  places with `allGather`, each builds its bootstrap and starts its node, and a second
 *  `allGather` makes the start all-or-nothing: if any node failed, every task stops its own node
 *  and fails.
 *  {{{
 *  val nodes = ReservationStage.run(sc, clusterId, layout, config, program, secret, python)
 *  }}}
 */
object ReservationStage {

  /** Seconds a node's program gets to return when its task is killed (InputMode.TENSORFLOW). */
  private val StopGraceOnKillSeconds = 2.0

  /** Runs the stage. In InputMode.SPARK it returns once every node is ready; in
   *  InputMode.TENSORFLOW its tasks wait for their nodes' programs to end.
   *  `tensorboardUrls`: where the node serving TensorBoard announces its URL (see
   *  [[TensorBoardAnnouncement]]). */
  def run(sc: SparkContext, clusterId: String, layout: ClusterLayout, config: ClusterConfig,
      program: TFProgram, secret: ClusterSecret, python: String,
      tensorboardUrls: Option[CollectionAccumulator[String]] = None): Seq[NodeInfo] = {
    val job = JobDescription.during(sc,
      s"sparktf cluster $clusterId: start ${layout.size} TensorFlow nodes") {
      sc.parallelize(0 until layout.size, layout.size).barrier().mapPartitions { _ =>
        Iterator(startNode(BarrierTaskContext.get(), clusterId, layout, config, program, secret,
            python, tensorboardUrls))
      }.collectAsync()
    }
    awaitSlots(sc, job, clusterId, layout.size, config.reservationTimeout)
    // Every task bounds its own steps (the node's start by reservation_timeout); in
    // InputMode.TENSORFLOW the tasks last as long as the programs.
    Await.result(job, Duration.Inf).sortBy(_.barrierIndex)
  }

  /** Waits until the stage's tasks run: Spark refuses a barrier stage larger than the cluster's
   *  slots at once, but one whose slots are busy (another job holds them) waits for them without
   *  end. The job is cancelled when they do not come within `timeoutSeconds`. */
  private def awaitSlots(sc: SparkContext, job: FutureAction[Seq[NodeInfo]], clusterId: String,
      tasks: Int, timeoutSeconds: Double): Unit = {
    val deadline = System.nanoTime() + (timeoutSeconds * 1e9).toLong
    def launched: Boolean = job.jobIds.flatMap(id => sc.statusTracker.getJobInfo(id).toSeq)
      .flatMap(_.stageIds.toSeq).flatMap(id => sc.statusTracker.getStageInfo(id).toSeq)
      .exists(s => s.numActiveTasks + s.numCompletedTasks + s.numFailedTasks >= tasks)
    while (!job.isCompleted && !launched) {
      if (System.nanoTime() > deadline) {
        job.cancel()
        Try(Await.ready(job, 30.seconds))
        throw new SparkTFException(s"sparktf cluster $clusterId waited $timeoutSeconds s " +
          s"(reservation_timeout) for $tasks free task slots: the executors are there, but " +
          "other jobs hold their slots. Wait for those jobs to end, give the application more " +
          "executors, or raise reservation_timeout; the reservation was cancelled")
      }
      try Await.ready(job, 100.millis)
      catch { case _: TimeoutException => }
    }
  }

  /** One barrier task: the node of partition `ctx.partitionId()`, started and ready. */
  private def startNode(ctx: BarrierTaskContext, clusterId: String, layout: ClusterLayout,
      config: ClusterConfig, program: TFProgram, secret: ClusterSecret, python: String,
      tensorboardUrls: Option[CollectionAccumulator[String]]): NodeInfo = {
    val place = NodePlace.here(ctx.partitionId(), layout)
    val spec = exchangePlaces(ctx, place, layout)
    val gpus = ctx.resources().get(GpuBinding.ResourceName).map(_.addresses.toSeq)
    val visibleDevices = Try(GpuBinding.cudaVisibleDevices(gpus,
        sys.env.get("CUDA_VISIBLE_DEVICES"), place.role, config.psGpus))
    val label = place.role.address.replace(':', '-')
    val workDir = NodeLauncher.workingDir(clusterId, label)
    val sharedDir =
      if (config.sharedMemoryFeed && config.inputMode == InputMode.SPARK &&
          place.role.takesData) {
        NodeLauncher.sharedDir(clusterId, label)
      } else None
    // runFunction's chief leaves its return value here: a directory of its own, since the
    // node's working directory is removed the moment its process exits.
    val resultDir =
      if (config.maxResultBytes > 0 && config.inputMode == InputMode.TENSORFLOW &&
          layout.actingChief.contains(place.role)) {
        Some(NodeLauncher.workingDir(clusterId, s"$label-result"))
      } else None
    try startPlacedNode(ctx, clusterId, layout, config, program, secret, python, place, spec,
        gpus, visibleDevices, workDir, sharedDir, resultDir, tensorboardUrls)
    finally resultDir.foreach(NodeProcess.deleteTree)
  }

  /** [[startNode]] once the task knows its place and the cluster's. */
  private def startPlacedNode(ctx: BarrierTaskContext, clusterId: String, layout: ClusterLayout,
      config: ClusterConfig, program: TFProgram, secret: ClusterSecret, python: String,
      place: NodePlace, spec: Map[String, Seq[String]], gpus: Option[Seq[String]],
      visibleDevices: Try[Option[String]], workDir: Path, sharedDir: Option[Path],
      resultDir: Option[Path],
      tensorboardUrls: Option[CollectionAccumulator[String]]): NodeInfo = {
    val boot = NodeBootstrap(
      clusterId = clusterId,
      role = place.role,
      workerNum = place.index,
      numWorkers = layout.numWorkers,
      clusterSpec = spec,
      tfConfig = TFConfig.json(spec, place.role),
      host = place.host,
      secret = secret.value,
      workingDir = workDir,
      program = program,
      modelDir = config.modelDir,
      exportDir = config.exportDir,
      checkpointDir = config.checkpointLocation,
      queueCapacity = config.queueCapacity,
      feedTimeoutSeconds = config.feedTimeout,
      linger = config.inputMode == InputMode.SPARK,
      lingerTimeoutSeconds = 24 * 3600.0,
      env = config.env,
      cudaVisibleDevices = visibleDevices.getOrElse(None),
      tensorboard = config.tensorboard && layout.tensorboardRole.contains(place.role),
      logDir = config.logDir,
      inputMode = config.inputMode,
      sharedDir = sharedDir,
      executorId = place.executorId,
      result = resultDir.map(d =>
        NodeBootstrap.ResultFile(d.resolve(NodeBootstrap.ResultFileName), config.maxResultBytes)),
      keras3MwmsFix = config.keras3MwmsFix
    )

    // A GPU binding error fails this node's start like any other, so every task reports it.
    val started = visibleDevices.flatMap(_ =>
      launch(ctx, boot, python, config, workDir,
        sharedDir))
    def info(ready: NodeReady, pid: Long) = NodeInfo(
      place.index,
      place.role,
      place.executorId,
      place.host,
      place.tfPort,
      ready.port,
      pid,
      gpus.getOrElse(Nil),
      boot.cudaVisibleDevices,
      ready.tensorboardUrl,
      sharedDir.map(_.toString)
    )
    // Feed tasks on this executor send to this node first: their channel to it opens now, while
    // the other nodes may still be starting, not in the first train().
    if (config.inputMode == InputMode.SPARK && place.role.takesData) {
      started.foreach { case (node, ready) =>
        ChannelWarmup.warm(Seq(info(ready, node.pid)), secret)
      }
    }
    agreeAllStarted(ctx, place, layout, started)
    val (node, ready) = started.get
    NodeRegistry.register(clusterId, node)
    LoggerFactory.getLogger(getClass).info(s"sparktf node ${place.role.address} ready on " +
      s"${place.host}:${ready.port} (TF port ${place.tfPort}" +
      boot.cudaVisibleDevices.fold("")(d => s", CUDA_VISIBLE_DEVICES='$d'") +
      ready.tensorboardUrl.fold("")(u => s", TensorBoard $u") + ")")
    tensorboardUrls.foreach(urls => ready.tensorboardUrl.foreach(urls.add))
    val result =
      if (config.inputMode == InputMode.TENSORFLOW) awaitProgram(ctx, node, boot.result) else None
    info(ready, node.pid).copy(result = result)
  }

  /** Where one task runs: its role, executor, host and (for roles in TF_CONFIG) a free port. */
  private final case class NodePlace(index: Int, role: NodeRole, executorId: String,
      host: String, tfPort: Int) {
    def encoded: String = Seq(index.toString, executorId, host, tfPort.toString).mkString("\t")
  }

  private object NodePlace {
    def here(index: Int, layout: ClusterLayout): NodePlace = {
      val host = ExecutorIdentity.host
      val role = layout.roles(index)
      NodePlace(index, role, ExecutorIdentity.executorId, host,
        if (role.inClusterSpec) freePort(host) else 0)
    }

    def decoded(text: String, layout: ClusterLayout): NodePlace = {
      val p = text.split("\t")
      NodePlace(p(0).toInt, layout.roles(p(0).toInt), p(1), p(2), p(3).toInt)
    }
  }

  /** Every task's place, as the cluster spec of TF_CONFIG; fails when two tasks share an
   *  executor (its one node could not serve both). */
  private def exchangePlaces(ctx: BarrierTaskContext, place: NodePlace,
      layout: ClusterLayout): Map[String, Seq[String]] = {
    val peers = ctx.allGather(place.encoded).map(NodePlace.decoded(_, layout)).sortBy(_.index)
    peers.groupBy(_.executorId).collectFirst {
      case (exec, members) if members.size > 1 =>
        throw new SparkTFException(s"executor $exec was given ${members.size} sparktf nodes " +
          s"(${members.map(_.role.address).mkString(", ")}); each executor must " +
          "run exactly one task at a time: one core per executor, or spark.task.cpus = cores")
    }
    TFConfig.clusterSpec(peers.toSeq.map(p => p.role -> s"${p.host}:${p.tfPort}"))
  }

  /** Starts the node process; a stage that fails later stops it with the task. */
  private def launch(ctx: BarrierTaskContext, boot: NodeBootstrap, python: String,
      config: ClusterConfig, workDir: Path,
      sharedDir: Option[Path]): Try[(NodeProcess, NodeReady)] = {
    val started = Try(NodeLauncher.launch(boot, python, config.reservationTimeout))
    // No process to own the node's directories (a failed launch removes them too: idempotent).
    if (started.isFailure) (workDir +: sharedDir.toSeq).foreach(NodeProcess.deleteTree)
    started.foreach { case (node, _) =>
      ctx.addTaskFailureListener(new org.apache.spark.util.TaskFailureListener {
        override def onTaskFailure(context: org.apache.spark.TaskContext, error: Throwable): Unit =
          node.stop(0)
      })
    }
    started
  }

  /** The start is all-or-nothing: when any node did not start, every task stops its own and
   *  fails, naming every node that failed (whichever task Spark reports first, the driver's
   *  error lists all of them). */
  private def agreeAllStarted(ctx: BarrierTaskContext, place: NodePlace, layout: ClusterLayout,
      started: Try[(NodeProcess, NodeReady)]): Unit = {
    val outcomes = ctx.allGather(started match {
      case Success(_) => "ok"
      case Failure(e) =>
        s"${place.role.address} on ${place.host} (executor ${place.executorId}): ${e.getMessage}"
    })
    val failed = outcomes.filter(_ != "ok")
    if (failed.nonEmpty) {
      started.foreach { case (node, _) => node.stop(0) }
      throw new SparkTFException(s"${failed.size} of ${layout.size} nodes did not start:\n" +
          failed.mkString("\n"), started.failed.toOption.orNull)
    }
  }

  /** InputMode.TENSORFLOW: the task lives as long as its node's program; returns the program's
   *  pickled return value when the node was asked for it (`result`). */
  private def awaitProgram(ctx: BarrierTaskContext, node: NodeProcess,
      result: Option[NodeBootstrap.ResultFile]): Option[Array[Byte]] = {
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
    val returned = if (code == 0) result.map(r => ProgramResultFile.read(r, node.role)) else None
    node.stop(0)
    if (code != 0) {
      throw new SparkTFException(s"node ${node.role.address} ${node.exitDescription}; its " +
        s"stderr ends with:\n${node.stderrTail}")
    }
    returned
  }

  /** A free port on the executor's address, for TensorFlow's own server to bind later. */
  private def freePort(host: String): Int = {
    val address = InetAddress.getByName(host)
    // TensorFlow binds the port later, in the node: one the kernel hands out for bind(0) (from
    // the ephemeral range) may meanwhile go to another socket that asks for any port, such as
    // the node's own gRPC server. A port below that range is taken only by someone naming it.
    val below = Iterator.continually(LowPorts.start + Random.nextInt(LowPorts.size)).take(64)
      .find(p => Try(new ServerSocket(p, 1, address).close()).isSuccess)
    below.getOrElse {
      val s = new ServerSocket(0, 1, address)
      try s.getLocalPort
      finally s.close()
    }
  }

  /** Ports for TensorFlow's servers: under Linux's default ephemeral range (32768-60999). */
  private val LowPorts = 20000 until 32768
}
