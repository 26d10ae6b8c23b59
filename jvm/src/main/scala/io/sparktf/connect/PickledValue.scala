package io.sparktf.connect

import scala.jdk.CollectionConverters._

import com.fasterxml.jackson.databind.JsonNode
import com.fasterxml.jackson.databind.node.JsonNodeFactory
import net.razorvine.pickle.Unpickler
import net.razorvine.pickle.objects.ClassDict

import io.sparktf.SparkTFException

/** The chief's pickled return value of `sparktf.run` as JSON, for a Spark Connect client: the
 *  client unpickles nothing that comes from the server, so the server reads the pickle as data
 *  with Spark's own unpickler (`net.razorvine.pickle`, which builds Java values and runs no
 *  Python) and answers plain values only. Anything else (a numpy number, an object) is refused
 *  naming its type.
 *  {{{
 *  PickledValue.toJson(bytes)   // e.g. {"loss": 0.25, "steps": [1, 2]}
 *  }}}
 */
object PickledValue {
  private val json = JsonNodeFactory.instance

  def toJson(pickled: Array[Byte]): JsonNode = {
    val value =
      try new Unpickler().loads(pickled)
      catch {
        case e: Exception => throw refused(s"a pickle this server cannot read (${e.getMessage})")
      }
    node(value, "the value")
  }

  private def node(v: Any, where: String): JsonNode = v match {
    case null => json.nullNode()
    case b: java.lang.Boolean => json.booleanNode(b)
    case i: java.lang.Integer => json.numberNode(i)
    case l: java.lang.Long => json.numberNode(l)
    case b: java.math.BigInteger => json.numberNode(b)
    case d: java.lang.Double => json.numberNode(d)
    case s: String => json.textNode(s)
    case c: ClassDict => throw refused(s"$where is a ${c.getClassName}")
    case m: java.util.Map[_, _] =>
      val obj = json.objectNode()
      m.asScala.foreach {
        case (k: String, x) => obj.set[JsonNode](k, node(x, s"$where['$k']"))
        case (k, _) => throw refused(s"$where has a key of type ${typeName(k)}; use str keys")
      }
      obj
    case xs: java.util.List[_] => array(xs.asScala, where)
    case xs: Array[AnyRef] => array(xs.toSeq, where)
    case other => throw refused(s"$where is a ${typeName(other)}")
  }

  private def array(xs: Iterable[Any], where: String): JsonNode = {
    val arr = json.arrayNode()
    xs.zipWithIndex.foreach { case (x, i) => arr.add(node(x, s"$where[$i]")) }
    arr
  }

  private def typeName(v: Any): String = v match {
    case _: Array[Byte] => "bytes"
    case null => "None"
    case o => o.getClass.getSimpleName
  }

  private def refused(what: String) = new SparkTFException(s"sparktf.run over Spark Connect " +
    s"returns plain values (None, bool, int, float, str, and lists, tuples and str-keyed dicts " +
    s"of them), but $what: convert it in the function (float(x), x.tolist(), ...) or return " +
    "the path of a file that holds it")
}
