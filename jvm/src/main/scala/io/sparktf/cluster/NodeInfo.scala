package io.sparktf.cluster

import scala.jdk.CollectionConverters._

/** Where one started node lives: what the driver and the feed tasks need to reach it.
 *
 *  @param barrierIndex the reservation task that started it, which is also its worker number
 *  @param tfPort       the port of TensorFlow's own gRPC server (0 for the evaluator)
 *  @param port         the node's sparktf gRPC port (DataFeed and NodeControl)
 *  @param gpus         the GPU addresses Spark's resource scheduling gave its task (empty: none)
 *  @param cudaVisibleDevices what the node's CUDA_VISIBLE_DEVICES was set to; None: inherited
 *                      from the executor unchanged (Spark schedules no "gpu" resource)
 *  @param tensorboardUrl the URL of the TensorBoard this node serves, if it runs one
 *  @param sharedDir    the node's shared-memory directory: feed tasks that can see it (on the
 *                      node's machine) hand batches over as files there instead of on the socket
 *  @param result       [[io.sparktf.TFCluster.runFunction]]: the chief's cloudpickled return value
 */
final case class NodeInfo(
    barrierIndex: Int,
    role: NodeRole,
    executorId: String,
    host: String,
    tfPort: Int,
    port: Int,
    pid: Long,
    gpus: Seq[String] = Nil,
    cudaVisibleDevices: Option[String] = None,
    tensorboardUrl: Option[String] = None,
    sharedDir: Option[String] = None,
    result: Option[Array[Byte]] = None) {
  def describe: String = s"${role.address} (executor $executorId on $host, pid $pid)"

  /** The fields under the Python API's snake_case names, ready for a JSON writer. */
  def toJavaMap: java.util.Map[String, Any] = {
    val m = new java.util.LinkedHashMap[String, Any]()
    m.put("role", role.address)
    m.put("executor_id", executorId)
    m.put("host", host)
    m.put("tf_port", tfPort)
    m.put("port", port)
    m.put("pid", pid)
    m.put("gpus", gpus.asJava)
    m.put("cuda_visible_devices", cudaVisibleDevices.orNull)
    m.put("tensorboard_url", tensorboardUrl.orNull)
    m.put("shared_dir", sharedDir.orNull)
    m
  }
}
