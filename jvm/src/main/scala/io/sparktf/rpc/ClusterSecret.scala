package io.sparktf.rpc

import java.security.SecureRandom
import javax.crypto.Mac
import javax.crypto.spec.SecretKeySpec

import io.grpc.{ClientInterceptor, Metadata}
import io.grpc.stub.MetadataUtils

/** The per-cluster secret every sparktf gRPC call carries in the `sparktf-secret` header.
 *
 *  Derived from Spark's own auth secret when `spark.authenticate` is on (so it is as private as
 *  Spark's), random per cluster otherwise. `toString` never shows it.
 *  {{{
 *  val secret = ClusterSecret.create(clusterId = "c1", sparkAuthSecret = None)
 *  NettyChannelBuilder.forAddress(host, port).intercept(secret.interceptor)
 *  }}}
 */
final class ClusterSecret private (val value: String) extends Serializable {
  def interceptor: ClientInterceptor = {
    val headers = new Metadata()
    headers.put(ClusterSecret.HeaderKey, value)
    MetadataUtils.newAttachHeadersInterceptor(headers)
  }
  override def toString: String = "ClusterSecret(****)"
}

object ClusterSecret {
  val HeaderName = "sparktf-secret"
  val HeaderKey: Metadata.Key[String] =
    Metadata.Key.of(HeaderName, Metadata.ASCII_STRING_MARSHALLER)

  def create(clusterId: String, sparkAuthSecret: Option[String]): ClusterSecret = {
    val bytes = sparkAuthSecret.filter(_.nonEmpty) match {
      case Some(auth) =>
        val mac = Mac.getInstance("HmacSHA256")
        mac.init(new SecretKeySpec(auth.getBytes("UTF-8"), "HmacSHA256"))
        mac.doFinal(s"sparktf-cluster:$clusterId".getBytes("UTF-8"))
      case None =>
        val b = new Array[Byte](32)
        new SecureRandom().nextBytes(b)
        b
    }
    new ClusterSecret(bytes.map(b => f"${b & 0xff}%02x").mkString)
  }
}
