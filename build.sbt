// sparktf: one assembly jar holding the Scala package, the generated gRPC stubs (shaded) and the
// `sparktf` Python package at its root.
import java.io.File

ThisBuild / organization := "io.sparktf"
ThisBuild / version := "0.1.0"
ThisBuild / scalaVersion := "2.13.18"

val grpcVersion = "1.85.1"
val protobufVersion = "4.36.2"
// The codegen plugin's native binary is published later than the runtime; stubs from an older
// codegen run on a newer grpc-java runtime.
val grpcCodegenVersion = "1.83.1"

// Spark 4.3.0 is on PyPI but not on Maven Central, so the build compiles against the jars of the
// pip pyspark (SPARK_HOME). They are `provided`: on the classpath to compile and test, never
// in the assembly.
lazy val sparkHome: File = {
  val fromEnv = sys.env.get("SPARK_HOME").map(file)
  fromEnv.filter(h => (h / "jars").isDirectory).getOrElse(
    sys.error("SPARK_HOME must point at a Spark 4.3 install (the pip pyspark package dir); " +
      "scripts/setup creates one"))
}
lazy val sparkJars: Seq[File] = ((sparkHome / "jars") * "*.jar").get

lazy val sparktf = (project in file("."))
  .settings(
    name := "sparktf",
    Compile / scalaSource := baseDirectory.value / "jvm" / "src" / "main" / "scala",
    Test / scalaSource := baseDirectory.value / "jvm" / "src" / "test" / "scala",
    Compile / resourceDirectory := baseDirectory.value / "jvm" / "src" / "main" / "resources",
    Test / resourceDirectory := baseDirectory.value / "jvm" / "src" / "test" / "resources",
    javacOptions ++= Seq("--release", "17"),
    scalacOptions ++= Seq("-release", "17", "-deprecation", "-feature", "-Xlint:-unused,_"),
    Compile / PB.protoSources := Seq(baseDirectory.value / "proto"),
    PB.protocVersion := protobufVersion,
    Compile / PB.targets := Seq(
      PB.gens.java(protobufVersion) -> (Compile / sourceManaged).value / "protobuf",
      PB.gens.plugin("grpc-java") -> (Compile / sourceManaged).value / "protobuf"
    ),
    libraryDependencies ++= Seq(
      "io.grpc" % "protoc-gen-grpc-java" % grpcCodegenVersion asProtocPlugin (),
      "io.grpc" % "grpc-netty-shaded" % grpcVersion,
      "io.grpc" % "grpc-protobuf" % grpcVersion,
      "io.grpc" % "grpc-stub" % grpcVersion,
      "com.google.protobuf" % "protobuf-java" % protobufVersion,
      // JsonFormat: the node contract (proto/sparktf/v1/node.proto) and the cluster settings
      // travel as proto3 JSON, readable in a node's working directory.
      "com.google.protobuf" % "protobuf-java-util" % protobufVersion,
      "javax.annotation" % "javax.annotation-api" % "1.3.2" % Provided,
      "org.scalatest" %% "scalatest" % "3.2.19" % Test,
      "io.grpc" % "grpc-inprocess" % grpcVersion % Test
    ),
    Compile / unmanagedJars ++= sparkJars.map(Attributed.blank),
    Test / unmanagedJars ++= sparkJars.map(Attributed.blank),
    // The Python package travels inside the jar so `--packages` gives `import sparktf` and the
    // node processes their runtime.
    Compile / unmanagedResourceDirectories += baseDirectory.value / "python",
    Compile / unmanagedResources / excludeFilter := HiddenFileFilter || "__pycache__" || "*.pyc" || "tests" ||
      "*.egg-info",
    Test / fork := true,
    Test / javaOptions ++= Seq(
      "-Xmx2g",
      "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
      "--add-opens=java.base/java.nio=ALL-UNNAMED",
      "--add-opens=java.base/java.lang=ALL-UNNAMED",
      "--add-opens=java.base/java.util=ALL-UNNAMED",
      // A failed task of a local SparkSession (ClusterFeedSuite) is reported through these.
      "--add-opens=java.base/java.io=ALL-UNNAMED",
      "--add-opens=java.base/java.net=ALL-UNNAMED",
      "--add-opens=java.base/java.lang.invoke=ALL-UNNAMED",
      "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED"
    ),
    Test / envVars ++= Map("SPARK_LOCAL_IP" -> "127.0.0.1"),
    Test / parallelExecution := false,
    assembly / assemblyJarName := s"sparktf_2.13-${version.value}.jar",
    assembly / assemblyOption ~= (_.withIncludeScala(false)),
    // Spark's jars are provided by Spark: never inside ours.
    assembly / assemblyExcludedJars := {
      val spark = sparkJars.map(_.getCanonicalPath).toSet
      (assembly / fullClasspath).value.filter(a => spark.contains(a.data.getCanonicalPath))
    },
    // grpc-netty-shaded stays as it is: relocating it breaks its native epoll library.
    assembly / assemblyShadeRules := Seq(
      // protobuf, guava and the common protos grpc-protobuf drags in: all under com.google.
      ShadeRule.rename("com.google.**" -> "io.sparktf.shaded.google.@1").inAll
    ),
    assembly / assemblyMergeStrategy := {
      case PathList("META-INF", "services", _*) => MergeStrategy.concat
      case PathList("META-INF", "versions", _, "module-info.class") => MergeStrategy.discard
      case "module-info.class" => MergeStrategy.discard
      case PathList("META-INF", xs @ _*)
          if xs.lastOption.exists(n =>
            n.endsWith(".SF") || n.endsWith(".DSA") || n.endsWith(".RSA")) => MergeStrategy.discard
      case PathList("META-INF", "MANIFEST.MF") => MergeStrategy.discard
      case PathList("google", "protobuf", _*) => MergeStrategy.first
      case x if x.endsWith(".proto") => MergeStrategy.first
      case x if x.endsWith("io.netty.versions.properties") => MergeStrategy.first
      case x => (assembly / assemblyMergeStrategy).value(x)
    }
  )
