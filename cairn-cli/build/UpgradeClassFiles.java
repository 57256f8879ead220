import java.io.IOException;
import java.io.OutputStream;
import java.lang.classfile.ClassFile;
import java.lang.classfile.ClassFileVersion;
import java.lang.classfile.ClassHierarchyResolver;
import java.lang.classfile.ClassModel;
import java.lang.classfile.ClassTransform;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Collections;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/**
 * Build step (run by cairn-cli's pom after the shade): rewrites the classes under a package prefix of a jar
 * that are older than class-file version 52 (Java 8) as version 52, with stack maps computed, in place.
 *
 * <p>Why: picocli ships Java 5 class files, and the JDK's ahead-of-time cache (which the CLI uses to start
 * quickly) cannot hold classes that old — so every client command loaded, verified (with the old, slower
 * verifier) and linked picocli's ~180 classes from the jar: about 40 ms warm and 90 ms with a cold page
 * cache, of a command's 150–350 ms. The bytecode itself is unchanged; only the version and the StackMapTable
 * attributes that version requires are new, and the JVM's verifier checks those when it loads the class.
 *
 * <p>Usage: {@code java UpgradeClassFiles.java JAR PREFIX} (for example {@code target/cairn.jar picocli/}).
 */
public final class UpgradeClassFiles {

    private static final int TARGET_MAJOR = 52;

    public static void main(String[] args) throws IOException {
        if (args.length != 2) {
            System.err.println("usage: java UpgradeClassFiles.java JAR PREFIX");
            System.exit(2);
        }
        Path jar = Path.of(args[0]);
        String prefix = args[1];
        Path temp = jar.resolveSibling(jar.getFileName() + ".upgrading");
        int upgraded = 0;
        // types are resolved from the jar itself (stack maps need the common superclass of merged types)
        try (URLClassLoader classes = new URLClassLoader(new java.net.URL[] {jar.toUri().toURL()}, ClassLoader.getPlatformClassLoader());
             ZipFile in = new ZipFile(jar.toFile());
             OutputStream file = Files.newOutputStream(temp);
             ZipOutputStream out = new ZipOutputStream(file)) {
            ClassFile cf = ClassFile.of(ClassFile.StackMapsOption.GENERATE_STACK_MAPS,
                    ClassFile.ClassHierarchyResolverOption.of(ClassHierarchyResolver.ofResourceParsing(classes)
                            .orElse(ClassHierarchyResolver.defaultResolver())));
            ClassTransform version = (builder, element) -> {
                if (element instanceof ClassFileVersion) builder.withVersion(TARGET_MAJOR, 0);
                else builder.with(element);
            };
            // every method body passed through a builder, so that its stack maps are generated (an untouched
            // body would be copied as it is, without them, and fail verification at version 52)
            ClassTransform toTarget = version.andThen(ClassTransform.transformingMethodBodies((code, element) -> code.with(element)));
            for (ZipEntry entry : Collections.list(in.entries())) {
                byte[] bytes = in.getInputStream(entry).readAllBytes();
                if (entry.getName().startsWith(prefix) && entry.getName().endsWith(".class")) {
                    ClassModel model = cf.parse(bytes);
                    if (model.majorVersion() < TARGET_MAJOR) {
                        bytes = cf.transformClass(model, toTarget);
                        upgraded++;
                    }
                }
                ZipEntry copy = new ZipEntry(entry.getName());
                copy.setTime(entry.getTime());
                out.putNextEntry(copy);
                out.write(bytes);
                out.closeEntry();
            }
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(temp);
            throw e;
        }
        Files.move(temp, jar, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        System.out.println("UpgradeClassFiles: " + upgraded + " classes under " + prefix + " in " + jar + " are now class-file version " + TARGET_MAJOR);
    }
}
