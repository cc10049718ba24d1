// SPDX-License-Identifier: MPL-2.0
//! The AWS CLI (v1, from the project's virtualenv) as an independent client of the control
//! plane: every stream, tag and configuration command, and the error names it reports.

mod control_support;

use control_support::{AwsCli, start};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_cli_drives_the_whole_control_plane() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let base = server.base_url().to_owned();
    let cli = AwsCli::new(&base);

    let created = cli.ok(&[
        "create-stream",
        "--stream-name",
        "cam-1",
        "--data-retention-in-hours",
        "24",
        "--media-type",
        "video/h264",
        "--tags",
        "site=lab,owner=qa",
    ]);
    let arn = created["StreamARN"].as_str().expect("StreamARN").to_owned();
    assert!(
        arn.starts_with("arn:aws:kinesisvideo:us-east-1:") && arn.contains(":stream/cam-1/"),
        "{arn}"
    );

    let info = &cli.ok(&["describe-stream", "--stream-name", "cam-1"])["StreamInfo"];
    assert_eq!(info["StreamName"], "cam-1");
    assert_eq!(info["StreamARN"], arn.as_str());
    assert_eq!(info["Status"], "ACTIVE");
    assert_eq!(info["MediaType"], "video/h264");
    assert_eq!(info["DataRetentionInHours"], 24);
    let version = info["Version"].as_str().expect("Version").to_owned();

    let dup = cli.err(&["create-stream", "--stream-name", "cam-1"]);
    assert!(dup.contains("ResourceInUseException"), "{dup}");

    let listed = cli.ok(&["list-streams"]);
    let names: Vec<_> = listed["StreamInfoList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["StreamName"].clone())
        .collect();
    assert_eq!(names, vec![json!("cam-1")]);

    // UpdateStream: a stale version is refused, the current one is accepted and replaced.
    let stale = cli.err(&[
        "update-stream",
        "--stream-name",
        "cam-1",
        "--current-version",
        "notthecurrentversion",
        "--media-type",
        "video/h265",
    ]);
    assert!(stale.contains("VersionMismatchException"), "{stale}");
    cli.ok(&[
        "update-stream",
        "--stream-name",
        "cam-1",
        "--current-version",
        &version,
        "--media-type",
        "video/h265",
        "--device-name",
        "dev-7",
    ]);
    let info = &cli.ok(&["describe-stream", "--stream-arn", &arn])["StreamInfo"];
    assert_eq!(info["MediaType"], "video/h265");
    assert_eq!(info["DeviceName"], "dev-7");
    let version2 = info["Version"].as_str().unwrap().to_owned();
    assert_ne!(version2, version);

    cli.ok(&[
        "update-data-retention",
        "--stream-name",
        "cam-1",
        "--current-version",
        &version2,
        "--operation",
        "INCREASE_DATA_RETENTION",
        "--data-retention-change-in-hours",
        "6",
    ]);
    let info = &cli.ok(&["describe-stream", "--stream-name", "cam-1"])["StreamInfo"];
    assert_eq!(info["DataRetentionInHours"], 30);
    let version3 = info["Version"].as_str().unwrap().to_owned();
    let too_far = cli.err(&[
        "update-data-retention",
        "--stream-name",
        "cam-1",
        "--current-version",
        &version3,
        "--operation",
        "DECREASE_DATA_RETENTION",
        "--data-retention-change-in-hours",
        "31",
    ]);
    assert!(too_far.contains("InvalidArgumentException"), "{too_far}");

    // Tags, through both the stream and the resource operations.
    cli.ok(&[
        "tag-stream",
        "--stream-name",
        "cam-1",
        "--tags",
        "zone=a,site=hq",
    ]);
    cli.ok(&[
        "untag-stream",
        "--stream-arn",
        &arn,
        "--tag-key-list",
        "owner",
    ]);
    let tags = cli.ok(&["list-tags-for-stream", "--stream-name", "cam-1"]);
    assert_eq!(tags["Tags"], json!({"site": "hq", "zone": "a"}));
    cli.ok(&[
        "tag-resource",
        "--resource-arn",
        &arn,
        "--tags",
        "Key=team,Value=video",
    ]);
    cli.ok(&[
        "untag-resource",
        "--resource-arn",
        &arn,
        "--tag-key-list",
        "zone",
    ]);
    let tags = cli.ok(&["list-tags-for-resource", "--resource-arn", &arn]);
    assert_eq!(tags["Tags"], json!({"site": "hq", "team": "video"}));
    let bad_arn = cli.err(&["list-tags-for-stream", "--stream-arn", "arn:nope"]);
    assert!(
        bad_arn.contains("InvalidResourceFormatException"),
        "{bad_arn}"
    );

    let endpoint = cli.ok(&[
        "get-data-endpoint",
        "--stream-name",
        "cam-1",
        "--api-name",
        "PUT_MEDIA",
    ]);
    assert_eq!(endpoint["DataEndpoint"], base.as_str());
    let bad_api = cli.err(&[
        "get-data-endpoint",
        "--stream-name",
        "cam-1",
        "--api-name",
        "NOT_AN_API",
    ]);
    assert!(bad_api.contains("InvalidArgumentException"), "{bad_api}");

    // Image generation and notification configuration round-trip.
    let image_cfg = json!({
        "Status": "ENABLED",
        "ImageSelectorType": "SERVER_TIMESTAMP",
        "DestinationConfig": {"Uri": "s3://bucket/prefix", "DestinationRegion": "us-east-1"},
        "SamplingInterval": 3000,
        "Format": "JPEG",
        "FormatConfig": {"JPEGQuality": "80"},
        "WidthPixels": 640
    });
    cli.ok(&[
        "update-image-generation-configuration",
        "--stream-name",
        "cam-1",
        "--image-generation-configuration",
        &image_cfg.to_string(),
    ]);
    let got = cli.ok(&[
        "describe-image-generation-configuration",
        "--stream-name",
        "cam-1",
    ]);
    assert_eq!(got["ImageGenerationConfiguration"], image_cfg);
    let notif_cfg = json!({
        "Status": "ENABLED",
        "DestinationConfig": {"Uri": "arn:aws:sns:us-east-1:000000000000:topic"}
    });
    cli.ok(&[
        "update-notification-configuration",
        "--stream-arn",
        &arn,
        "--notification-configuration",
        &notif_cfg.to_string(),
    ]);
    let got = cli.ok(&[
        "describe-notification-configuration",
        "--stream-name",
        "cam-1",
    ]);
    assert_eq!(got["NotificationConfiguration"], notif_cfg);

    // A stream without retention cannot have either configuration.
    cli.ok(&["create-stream", "--stream-name", "no-retention"]);
    let no_ret = cli.err(&[
        "update-notification-configuration",
        "--stream-name",
        "no-retention",
        "--notification-configuration",
        &notif_cfg.to_string(),
    ]);
    assert!(no_ret.contains("NoDataRetentionException"), "{no_ret}");

    let missing = cli.err(&["describe-stream", "--stream-name", "nope"]);
    assert!(missing.contains("ResourceNotFoundException"), "{missing}");
    let bad_name = cli.err(&["create-stream", "--stream-name", "has space"]);
    assert!(bad_name.contains("InvalidArgumentException"), "{bad_name}");

    let wrong_version = cli.err(&[
        "delete-stream",
        "--stream-arn",
        &arn,
        "--current-version",
        "abc",
    ]);
    assert!(
        wrong_version.contains("VersionMismatchException"),
        "{wrong_version}"
    );
    cli.ok(&["delete-stream", "--stream-arn", &arn]);
    let gone = cli.err(&["describe-stream", "--stream-arn", &arn]);
    assert!(gone.contains("ResourceNotFoundException"), "{gone}");
    // The name is free again; the new stream has a new ARN.
    let again = cli.ok(&["create-stream", "--stream-name", "cam-1"]);
    assert_ne!(again["StreamARN"], arn.as_str());

    server.shutdown().await;
}
