PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_upload_parts` (
	`upload_id` text NOT NULL,
	`part_number` integer NOT NULL,
	`size_bytes` integer NOT NULL,
	`sha256` text,
	`etag` text NOT NULL,
	`created_at` integer DEFAULT (unixepoch('subsec') * 1000) NOT NULL,
	PRIMARY KEY(`upload_id`, `part_number`),
	FOREIGN KEY (`upload_id`) REFERENCES `uploads`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
INSERT INTO `__new_upload_parts`("upload_id", "part_number", "size_bytes", "sha256", "etag", "created_at") SELECT "upload_id", "part_number", "size_bytes", "sha256", "etag", "created_at" FROM `upload_parts`;--> statement-breakpoint
DROP TABLE `upload_parts`;--> statement-breakpoint
ALTER TABLE `__new_upload_parts` RENAME TO `upload_parts`;--> statement-breakpoint
PRAGMA foreign_keys=ON;