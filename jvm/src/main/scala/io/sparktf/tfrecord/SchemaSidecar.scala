package io.sparktf.tfrecord

import java.nio.charset.StandardCharsets

import org.apache.hadoop.fs.{FileSystem, Path}
import org.apache.spark.sql.types.{DataType, StructType}

import io.sparktf.SparkTFException

/** The DataFrame schema written next to the part files as `_sparktf_schema.json` (Spark's own
 *  schema JSON), so reading the folder back gives the exact schema: column order, nullability,
 *  int widths, float vs double, string vs binary, ML vectors. TFRecord readers skip it (its name
 *  starts with `_`).
 *
 *  {{{
 *  SchemaSidecar.write(fs, new Path("/data/digits"), df.schema)
 *  SchemaSidecar.read(fs, new Path("/data/digits"))  // Some(schema)
 *  }}}
 */
object SchemaSidecar {
  val FileName = "_sparktf_schema.json"

  def write(fs: FileSystem, folder: Path, schema: StructType): Unit = {
    val out = fs.create(new Path(folder, FileName), true)
    try out.write(schema.prettyJson.getBytes(StandardCharsets.UTF_8))
    finally out.close()
  }

  def read(fs: FileSystem, folder: Path): Option[StructType] = {
    val file = new Path(folder, FileName)
    if (!fs.exists(file)) return None
    val in = fs.open(file)
    val text =
      try new String(in.readAllBytes(), StandardCharsets.UTF_8)
      finally in.close()
    val parsed =
      try DataType.fromJson(text)
      catch {
        case e: Exception => throw new SparkTFException(s"$file is not a Spark schema JSON " +
              s"(${e.getMessage}); delete it to infer the schema from the records, or pass a schema",
            e)
      }
    parsed match {
      case s: StructType => Some(s)
      case other => throw new SparkTFException(s"$file holds ${other.simpleString}, not a struct " +
          "schema; delete it to infer the schema from the records, or pass a schema")
    }
  }
}
