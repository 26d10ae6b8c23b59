package io.sparktf.cluster

import io.sparktf.SparkTFException

/** Which GPUs a node sees: the `CUDA_VISIBLE_DEVICES` its process gets from the GPU addresses
 *  Spark's resource scheduling gave its reservation task (`spark.task.resource.gpu.amount`).
 *
 *  Spark's addresses index the GPUs the executor can see: when the executor itself runs under a
 *  `CUDA_VISIBLE_DEVICES` (a container or a resource manager set it), address `i` is the `i`-th
 *  entry of that list, as in pyspark's `TorchDistributor`. Parameter servers get no GPU unless
 *  asked (`ps_gpus`): they hold variables, and TensorFlow would otherwise grab GPU memory there.
 *  {{{
 *  GpuBinding.cudaVisibleDevices(Some(Seq("1")), Some("4,5"), NodeRole("worker", 0), false)
 *    == Some("5")
 *  GpuBinding.cudaVisibleDevices(Some(Seq("0")), None, NodeRole("ps", 0), false) == Some("")
 *  GpuBinding.cudaVisibleDevices(None, Some("4,5"), NodeRole("worker", 0), false) == None
 *  }}}
 */
object GpuBinding {

  /** Spark's resource name for GPUs. */
  val ResourceName = "gpu"

  /** The node's `CUDA_VISIBLE_DEVICES`, or None to leave the executor's own untouched.
   *
   *  @param taskGpus         the task's GPU addresses; None when Spark schedules no "gpu" resource
   *  @param executorVisible  the executor's own `CUDA_VISIBLE_DEVICES`, if it has one
   *  @param role             the node's role: a ps gets "" (no GPU) unless `psGpus`
   */
  def cudaVisibleDevices(taskGpus: Option[Seq[String]], executorVisible: Option[String],
      role: NodeRole, psGpus: Boolean): Option[String] = taskGpus.map { addresses =>
    if (role.jobName == NodeRole.Ps && !psGpus) ""
    else executorVisible match {
      case Some(visible) => mapThrough(addresses, visible).mkString(",")
      case None => addresses.mkString(",")
    }
  }

  private def mapThrough(addresses: Seq[String], visible: String): Seq[String] = {
    val devices = visible.split(",").map(_.trim).filter(_.nonEmpty).toIndexedSeq
    addresses.map { a =>
      a.toIntOption.filter(i => i >= 0 && i < devices.size).map(devices).getOrElse(
        throw new SparkTFException(s"Spark gave this task GPU address '$a', but the executor " +
          s"runs with CUDA_VISIBLE_DEVICES='$visible' (${devices.size} GPUs), so sparktf expects " +
          s"an index from 0 to ${devices.size - 1}: make the GPU discovery script report " +
          "indices into the executor's CUDA_VISIBLE_DEVICES, or unset it for the executor"))
    }
  }
}
