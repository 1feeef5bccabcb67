"""The AWS emulator and what runs on it: the embedded moto server and its patches to AWS's behaviour, the routes in
front of it, clients for its endpoint, and the deployer that puts the synthesized CDK app into it."""
