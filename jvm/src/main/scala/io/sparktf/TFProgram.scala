package io.sparktf

import java.nio.charset.StandardCharsets
import java.nio.file.{Files, Paths}

/** The program every node runs: `main_fun(args, ctx)`.
 *
 *  It travels to the executors inside Spark's own task closure (never over sparktf's sockets)
 *  and is written next to the node, which loads it.
 *  {{{
 *  // Scala: a Python file and the function in it; args become a dict
 *  TFProgram.script("train.py", "main_fun", Map("epochs" -> "3"))
 *  }}}
 *  Python users pass a function: the Python `TFCluster.run` cloudpickles `(main_fun, args)` into
 *  [[TFProgram.pickled]].
 */
sealed trait TFProgram extends Serializable

object TFProgram {

  /** A cloudpickled `(main_fun, args)` pair, made by the Python API. */
  final case class Pickled(bytes: Array[Byte]) extends TFProgram

  /** A Python source file's text, its file name, and the function to call. */
  final case class Script(fileName: String, source: String, function: String,
      args: Map[String, String]) extends TFProgram

  def pickled(bytes: Array[Byte]): TFProgram = Pickled(bytes)

  private val mapper = new com.fasterxml.jackson.databind.ObjectMapper()

  /** The program as JSON (pickled bytes in base64), for ML persistence of [[io.sparktf.ml.TFEstimator]]. */
  def toJson(p: TFProgram): String = {
    val node = mapper.createObjectNode()
    p match {
      case Pickled(bytes) =>
        node.put("kind", "pickled").put("base64", java.util.Base64.getEncoder.encodeToString(bytes))
      case Script(fileName, source, function, args) =>
        node.put("kind", "script").put("file_name", fileName).put("source", source)
          .put("function", function)
        val a = node.putObject("args")
        args.foreach { case (k, v) => a.put(k, v) }
    }
    mapper.writeValueAsString(node)
  }

  def fromJson(json: String): TFProgram = {
    import scala.jdk.CollectionConverters._
    val node = mapper.readTree(json)
    node.path("kind").asText() match {
      case "pickled" => Pickled(java.util.Base64.getDecoder.decode(node.get("base64").asText()))
      case "script" => Script(
          node.get("file_name").asText(),
          node.get("source").asText(),
          node.get("function").asText(),
          node.path("args").properties().asScala.map(e => e.getKey -> e.getValue.asText()).toMap
        )
      case other => throw new SparkTFException(s"unknown program kind '$other' in $json")
    }
  }

  /** Reads the script on the driver, so executors need no copy of it. */
  def script(path: String, function: String, args: Map[String, String] = Map.empty): TFProgram = {
    val p = Paths.get(path)
    if (!Files.isRegularFile(p)) {
      throw new SparkTFException(s"program script '$path' is not a readable file on the driver")
    }
    if (!function.matches("[A-Za-z_][A-Za-z0-9_]*")) {
      throw new SparkTFException(s"'$function' is not a Python function name")
    }
    Script(p.getFileName.toString, new String(Files.readAllBytes(p), StandardCharsets.UTF_8),
      function, args)
  }

  /** Java/py4j friendly form of [[script]]. */
  def script(path: String, function: String, args: java.util.Map[String, String]): TFProgram = {
    import scala.jdk.CollectionConverters._
    script(path, function, args.asScala.toMap)
  }
}
