//! TLS to PostgreSQL: DATABASE_URL's `sslmode` and `sslrootcert` against a
//! throwaway cluster that accepts only TLS connections, with a CA and a
//! server certificate made for the test.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::cluster::{run, Cluster, POSTGRES_BIN};
use crate::helpers::{run_broadsheet, Served};

/// Only TLS connections over TCP; the cluster's own tools use the socket.
const HBA_TLS_ONLY: &str = "local all all trust\nhostssl all all 127.0.0.1/32 trust\n";

/// A CA and a server certificate it signed for 127.0.0.1 and localhost, in
/// a directory removed when dropped.
struct Certificates {
    dir: PathBuf,
}

impl Certificates {
    fn make() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "broadsheet-tls-{}-{}",
            std::process::id(),
            chrono::Utc::now().timestamp_micros()
        ));
        std::fs::create_dir_all(&dir).expect("certificate directory");
        let certificates = Self { dir };
        let openssl = |args: &[&str]| {
            run(Command::new("openssl")
                .args(args)
                .current_dir(&certificates.dir));
        };
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
        openssl(
            &[
                &["req", "-x509", "-nodes", "-days", "2"][..],
                &ec,
                &["-keyout", "ca.key", "-out", "ca.crt"],
                &["-subj", "/CN=Broadsheet test CA"],
                &["-addext", "basicConstraints=critical,CA:TRUE"],
                &["-addext", "keyUsage=critical,keyCertSign,cRLSign"],
            ]
            .concat(),
        );
        openssl(
            &[
                &["req", "-new", "-nodes"][..],
                &ec,
                &["-keyout", "server.key", "-out", "server.csr"],
                &["-subj", "/CN=127.0.0.1"],
            ]
            .concat(),
        );
        std::fs::write(
            certificates.dir.join("server.ext"),
            "basicConstraints = CA:FALSE\n\
             keyUsage = critical, digitalSignature, keyEncipherment\n\
             extendedKeyUsage = serverAuth\n\
             subjectAltName = IP:127.0.0.1, DNS:localhost\n",
        )
        .expect("extensions file");
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "server.ext",
            "-out",
            "server.crt",
        ]);
        // PostgreSQL reads its key only when the key is its own and private.
        run(Command::new("chown")
            .arg("postgres:postgres")
            .arg(certificates.path("server.key")));
        run(Command::new("chmod")
            .arg("600")
            .arg(certificates.path("server.key")));
        certificates
    }

    fn path(&self, file: &str) -> String {
        self.dir.join(file).display().to_string()
    }
}

impl Drop for Certificates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A cluster serving TLS with `certificates`, refusing connections without it.
fn tls_only_cluster(certificates: &Certificates) -> Option<Cluster> {
    let (cert, key) = (
        certificates.path("server.crt"),
        certificates.path("server.key"),
    );
    let settings = [
        ("ssl", "on"),
        ("ssl_cert_file", cert.as_str()),
        ("ssl_key_file", key.as_str()),
    ];
    Cluster::start_with(&settings, Some(HBA_TLS_ONLY))
}

fn skipped() {
    eprintln!("skipped: {POSTGRES_BIN}/initdb is absent, so no throwaway cluster can be made");
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_sslmode_require_or_verify_full_and_the_ca_works_over_tls() {
    let certificates = Certificates::make();
    let Some(cluster) = tokio::task::block_in_place(|| tls_only_cluster(&certificates)) else {
        return skipped();
    };
    // serve creates, migrates and serves over TLS: the pool and the migrations.
    let require = format!("{}?sslmode=require", cluster.url("broadsheet_tls"));
    let mut served = Served::start(&[("DATABASE_URL", &require)]).await;
    let response = reqwest::get(format!("{}/v1/articles", served.address))
        .await
        .expect("the server answers");
    assert_eq!(response.status(), 200, "{}", served.log_text());
    let ready = reqwest::get(format!("{}/readyz", served.address))
        .await
        .expect("the server answers");
    assert_eq!(ready.status(), 200, "{}", served.log_text());
    served.signal("TERM");
    assert!(served.wait_for_exit().await, "{}", served.log_text());

    // The CLI verifying the server against the test's CA, by IP and by name.
    let ca = certificates.path("ca.crt");
    for host in ["127.0.0.1", "localhost"] {
        let url = format!(
            "{}?sslmode=verify-full&sslrootcert={ca}",
            cluster.url("broadsheet_tls").replace("127.0.0.1", host)
        );
        let output = run_broadsheet(&["keys", "list"], &[("DATABASE_URL", &url)]).await;
        assert!(output.status.success(), "{host}: {}", stderr(&output));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_failures_name_sslmode_or_sslrootcert_rather_than_starting_postgresql() {
    let certificates = Certificates::make();
    let Some(cluster) = tokio::task::block_in_place(|| tls_only_cluster(&certificates)) else {
        return skipped();
    };
    let url = cluster.url("postgres");

    // The platform does not trust the test's CA.
    let unverified = format!("{url}?sslmode=verify-full");
    let output = run_broadsheet(&["export"], &[("DATABASE_URL", &unverified)]).await;
    let said = stderr(&output);
    assert!(!output.status.success(), "{said}");
    for words in [
        "sslmode=verify-full",
        "certificate",
        "sslrootcert=",
        "sslmode=require",
    ] {
        assert!(said.contains(words), "`{words}` in: {said}");
    }
    assert!(!said.contains("start PostgreSQL"), "{said}");

    // A CA file that is not the server's.
    let elsewhere = Certificates::make();
    let wrong_ca = format!(
        "{url}?sslmode=verify-ca&sslrootcert={}",
        elsewhere.path("ca.crt")
    );
    let output = run_broadsheet(&["export"], &[("DATABASE_URL", &wrong_ca)]).await;
    assert!(
        stderr(&output).contains("sslrootcert="),
        "{}",
        stderr(&output)
    );

    // The server accepts no connection without TLS.
    let plain = format!("{url}?sslmode=disable");
    let output = run_broadsheet(&["export"], &[("DATABASE_URL", &plain)]).await;
    let said = stderr(&output);
    assert!(!output.status.success(), "{said}");
    for words in ["no encryption", "sslmode=require", "sslmode=disable"] {
        assert!(said.contains(words), "`{words}` in: {said}");
    }
    assert!(!said.contains("start PostgreSQL"), "{said}");

    // A CA file that cannot be read is named.
    let missing = format!("{url}?sslmode=verify-full&sslrootcert=/nonexistent/ca.crt");
    let output = run_broadsheet(&["export"], &[("DATABASE_URL", &missing)]).await;
    assert!(
        stderr(&output).contains("/nonexistent/ca.crt"),
        "{}",
        stderr(&output)
    );
}
