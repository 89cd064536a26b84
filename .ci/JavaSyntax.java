import com.sun.source.util.JavacTask;
import java.util.List;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;

/**
 * Parses Java files without compiling them: a syntax check that needs none of their
 * dependencies (which are not on this machine). Run with the source launcher:
 * {@code java .ci/JavaSyntax.java FILE...}; exits 1 on any syntax error.
 */
public class JavaSyntax {
    public static void main(String[] files) throws Exception {
        JavaCompiler compiler = ToolProvider.getSystemJavaCompiler();
        DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
        try (StandardJavaFileManager fileManager =
                compiler.getStandardFileManager(diagnostics, null, null)) {
            JavacTask task = (JavacTask) compiler.getTask(null, fileManager, diagnostics,
                    List.of(), null, fileManager.getJavaFileObjects(files));
            task.parse();
        }
        boolean failed = false;
        for (Diagnostic<? extends JavaFileObject> diagnostic : diagnostics.getDiagnostics()) {
            System.err.println(diagnostic);
            failed |= diagnostic.getKind() == Diagnostic.Kind.ERROR;
        }
        if (failed) {
            System.exit(1);
        }
        System.out.println("parsed: " + String.join(" ", files));
    }
}
