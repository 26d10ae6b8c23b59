package io.sparktf.node

import java.nio.charset.StandardCharsets
import java.nio.file.{Files, Path}

import com.google.protobuf.InvalidProtocolBufferException
import com.google.protobuf.util.JsonFormat

import io.sparktf.SparkTFException
import io.sparktf.proto.v1

/** What a started node or model server reports in its `ready.json`: the `NodeReady` message of
 *  `proto/sparktf/v1/node.proto`, written by `sparktf.node.ready`.
 *  {{{
 *  NodeReady.read(dir.resolve("ready.json"))   // NodeReady(41234, Some("http://h:39871/"))
 *  // ready.json: {"port": 41234, "pid": 811, "tensorboard_url": "http://h:39871/"}
 *  }}}
 *  @param port           the process's sparktf gRPC port
 *  @param tensorboardUrl where its TensorBoard answers, when it was asked to run one
 */
final case class NodeReady(port: Int, tensorboardUrl: Option[String])

object NodeReady {
  private val parser = JsonFormat.parser()

  def fromMessage(m: v1.NodeReady): NodeReady =
    NodeReady(m.getPort, if (m.hasTensorboardUrl) Some(m.getTensorboardUrl) else None)

  /** Parses a complete ready file (the process writes it atomically). */
  def read(path: Path): NodeReady = {
    val text = new String(Files.readAllBytes(path), StandardCharsets.UTF_8)
    val b = v1.NodeReady.newBuilder()
    try parser.merge(text, b)
    catch {
      case e: InvalidProtocolBufferException => throw new SparkTFException(s"$path is not a " +
            s"NodeReady message (${e.getMessage}): are the jar and the Python package the same " +
            s"version? It holds: $text", e)
    }
    if (b.getPort <= 0) throw new SparkTFException(s"$path reports port ${b.getPort}: $text")
    fromMessage(b.build())
  }
}
