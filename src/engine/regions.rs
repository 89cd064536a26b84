//! The public region list: regions the emulator knows even when no data lives there.

/// Public Alibaba Cloud region ids, sorted (SPEC appendix A).
pub const PUBLIC_REGIONS: [&str; 39] = [
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-south-1",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "cn-beijing",
    "cn-beijing-finance-1",
    "cn-chengdu",
    "cn-fuzhou",
    "cn-guangzhou",
    "cn-hangzhou",
    "cn-hangzhou-finance",
    "cn-heyuan",
    "cn-heyuan-acdr-1",
    "cn-hongkong",
    "cn-huhehaote",
    "cn-nanjing",
    "cn-qingdao",
    "cn-shanghai",
    "cn-shanghai-finance-1",
    "cn-shenzhen",
    "cn-shenzhen-finance-1",
    "cn-wuhan-lr",
    "cn-wulanchabu",
    "cn-zhangjiakou",
    "cn-zhengzhou-jva",
    "cn-zhongwei",
    "eu-central-1",
    "eu-west-1",
    "me-central-1",
    "me-east-1",
    "na-south-1",
    "us-east-1",
    "us-southeast-1",
    "us-west-1",
];

/// True for a public region id.
pub fn is_public(region: &str) -> bool {
    PUBLIC_REGIONS.binary_search(&region).is_ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn list_is_sorted_for_binary_search() {
        assert!(super::PUBLIC_REGIONS.windows(2).all(|w| w[0] < w[1]));
        assert!(super::is_public("cn-hangzhou"));
        assert!(!super::is_public("cn-atlantis"));
    }
}
