package io.sparktf.cluster

import io.sparktf.rpc.ClusterSecret

/** One start of a cluster's nodes. A restart makes a new incarnation: a fresh reservation, with
 *  its own cluster id (the nodes' registry key and working dirs) and its own secret.
 *
 *  @param number 0 for the first start, i for the i-th restart
 *  @param nodes  the started nodes (empty in InputMode.TENSORFLOW, where the driver learns of
 *                the nodes only when their programs end, and after a restart that failed)
 */
final case class ClusterIncarnation(
    clusterId: String,
    secret: ClusterSecret,
    nodes: Seq[NodeInfo],
    number: Int)
