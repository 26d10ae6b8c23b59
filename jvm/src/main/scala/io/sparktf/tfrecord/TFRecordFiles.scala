package io.sparktf.tfrecord

import java.io.{BufferedInputStream, BufferedOutputStream, InputStream, OutputStream}
import java.util.zip.{GZIPInputStream, GZIPOutputStream}

import org.apache.hadoop.conf.Configuration
import org.apache.hadoop.fs.{ChecksumFileSystem, FileSystem, Path}

import io.sparktf.SparkTFException

/** Where the TFRecord files of a written DataFrame are, and how they are opened: one
 *  `part-NNNNN.tfrecord` per partition (`.tfrecord.gz` when GZIP-compressed, which
 *  `tf.data.TFRecordDataset(files, compression_type="GZIP")` reads), through Hadoop's
 *  FileSystem so file://, hdfs:// and any other Hadoop file system work.
 *
 *  {{{
 *  val dir = new Path("hdfs:///data/digits")
 *  TFRecordFiles.list(dir.getFileSystem(conf), dir)  // its part files, in name order
 *  }}}
 */
object TFRecordFiles {

  /** Compression a write can ask for; a read goes by the file name's suffix. */
  val Compressions: Seq[String] = Seq("none", "gzip")

  /** The file system of `path`, without Hadoop's client-side `.crc` files (the local file
   *  system's): every TFRecord carries its own CRCs, and a stale `.crc` would hide the record
   *  checks' clearer error when a file is changed by TensorFlow or by hand. */
  def fileSystem(path: Path, conf: Configuration): FileSystem = path.getFileSystem(conf) match {
    case c: ChecksumFileSystem => c.getRawFileSystem
    case fs => fs
  }

  def partName(index: Int, compression: String): String =
    f"part-$index%05d.tfrecord" + (if (compression == "gzip") ".gz" else "")

  def checkCompression(compression: String): String = {
    val c = Option(compression).getOrElse("none").toLowerCase
    if (!Compressions.contains(c)) throw new SparkTFException(
      s"compression '$compression' is unknown; use one of ${Compressions.mkString(", ")}")
    c
  }

  /** Hidden files (`_`, `.`: the schema sidecar, `_SUCCESS`, checksums) are not data. */
  def isData(p: Path): Boolean = !p.getName.startsWith("_") && !p.getName.startsWith(".")

  /** The data files `path` names: a directory's visible files, one file, or a glob's matches,
   *  sorted by name. None is an empty list; a path that matches nothing fails. */
  def list(fs: FileSystem, path: Path): Seq[Path] = {
    val matched = Option(fs.globStatus(path)).map(_.toSeq).getOrElse(Nil)
    if (matched.isEmpty) throw new SparkTFException(s"no TFRecord files at $path: it does not " +
      "exist (or the glob matches nothing)")
    matched.flatMap { s =>
      if (s.isDirectory) fs.listStatus(s.getPath).toSeq.filter(f => f.isFile && isData(f.getPath))
      else Seq(s)
    }.map(_.getPath).filter(isData).sortBy(_.toString)
  }

  /** The folder whose schema sidecar describes `path`: itself when a folder, else the parent. */
  def folderOf(fs: FileSystem, path: Path, files: Seq[Path]): Path =
    if (fs.exists(path) && fs.getFileStatus(path).isDirectory) path
    else files.headOption.map(_.getParent).getOrElse(path.getParent)

  def open(fs: FileSystem, file: Path): InputStream = {
    val in = new BufferedInputStream(fs.open(file), 1 << 16)
    if (file.getName.endsWith(".gz")) new GZIPInputStream(in, 1 << 16) else in
  }

  def create(fs: FileSystem, file: Path, compression: String): OutputStream = {
    val out = new BufferedOutputStream(fs.create(file, true), 1 << 16)
    if (compression == "gzip") new GZIPOutputStream(out, 1 << 16) else out
  }
}
