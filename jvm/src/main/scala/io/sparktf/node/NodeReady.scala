package io.sparktf.node

import com.fasterxml.jackson.databind.JsonNode

/** What a started node reports in its `ready.json` (written by `sparktf.node.runtime`).
 *
 *  {{{
 *  {"port": 41234, "pid": 811, "tensorboard_url": "http://10.0.0.5:39871/"}
 *  }}}
 *  @param port           the node's sparktf gRPC port
 *  @param tensorboardUrl where its TensorBoard answers, when it was asked to run one
 */
final case class NodeReady(port: Int, tensorboardUrl: Option[String])

object NodeReady {
  def fromJson(json: JsonNode): NodeReady = NodeReady(
    port = json.get("port").asInt(),
    tensorboardUrl = Option(json.get("tensorboard_url")).filterNot(_.isNull).map(_.asText()))
}
