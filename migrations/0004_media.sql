CREATE TABLE `upload_parts` (
	`upload_id` text NOT NULL,
	`part_number` integer NOT NULL,
	`size_bytes` integer NOT NULL,
	`sha256` text NOT NULL,
	`etag` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	PRIMARY KEY(`upload_id`, `part_number`),
	FOREIGN KEY (`upload_id`) REFERENCES `uploads`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `uploads` (
	`id` text PRIMARY KEY NOT NULL,
	`owner_principal_id` integer NOT NULL,
	`job_id` text,
	`kind` text NOT NULL,
	`surface` text NOT NULL,
	`content_type` text NOT NULL,
	`size_bytes` integer NOT NULL,
	`part_size` integer NOT NULL,
	`part_count` integer NOT NULL,
	`sha256` text,
	`r2_key` text NOT NULL,
	`r2_upload_id` text NOT NULL,
	`status` text DEFAULT 'open' NOT NULL,
	`artifact_id` text,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	`expires_at` integer NOT NULL,
	FOREIGN KEY (`owner_principal_id`) REFERENCES `principals`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `uploads_owner_idx` ON `uploads` (`owner_principal_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `uploads_expiry_idx` ON `uploads` (`status`,`expires_at`);--> statement-breakpoint
ALTER TABLE `artifacts` ADD `kind` text DEFAULT 'input' NOT NULL;--> statement-breakpoint
ALTER TABLE `artifacts` ADD `job_id` text;--> statement-breakpoint
ALTER TABLE `artifacts` ADD `deleted_at` integer;--> statement-breakpoint
CREATE INDEX `artifacts_expiry_idx` ON `artifacts` (`deleted_at`,`expires_at`);--> statement-breakpoint
CREATE INDEX `artifacts_job_idx` ON `artifacts` (`job_id`);