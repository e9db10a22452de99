-- The embedded local capacity account: GPU bridges started by `npm start` belong to it.
INSERT INTO `capacity_accounts` (`id`, `label`, `provider`, `status`) VALUES ('local', 'Local bridges', 'local', 'ready');
