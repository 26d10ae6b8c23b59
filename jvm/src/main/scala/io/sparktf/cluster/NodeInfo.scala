package io.sparktf.cluster

/** Where one started node lives: what the driver and the feed tasks need to reach it.
 *
 *  @param barrierIndex the reservation task that started it, which is also its worker number
 *  @param tfPort       the port of TensorFlow's own gRPC server (0 for the evaluator)
 *  @param port         the node's sparktf gRPC port (DataFeed and NodeControl)
 */
final case class NodeInfo(
    barrierIndex: Int,
    role: NodeRole,
    executorId: String,
    host: String,
    tfPort: Int,
    port: Int,
    pid: Long) {
  def describe: String = s"${role.address} (executor $executorId on $host, pid $pid)"
}
